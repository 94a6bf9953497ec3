//! Gemini CLI's `settings.json`: the one key Switchyard may have to own
//! there, `security.auth.selectedType`.
//!
//! Without a selected login, gemini-cli (0.61.0, `getAuthTypeFromEnv`)
//! chooses one from the environment in this order: `GOOGLE_GENAI_USE_GCA`,
//! `GOOGLE_GENAI_USE_VERTEXAI`, then *`GOOGLE_GEMINI_BASE_URL` → "gateway"*,
//! then `GEMINI_API_KEY`, then Cloud Shell / compute credentials. So the base
//! URL that takeover writes to `.env` would turn a login by `GEMINI_API_KEY`
//! (or by compute credentials) into "gateway", which `gemini -p` refuses
//! (exit 41, "Invalid auth method selected."). Takeover therefore writes the
//! login the environment chose into the settings — only when none is selected
//! and the environment chose one of those two; the login is then the same as
//! before, and reads its own base URL. A selection the user makes later (the
//! `/auth` dialog writes this key) is theirs and is kept on hand-back.
//!
//! Edits are textual, in the file's own style, as for Claude Code's settings.

use serde::{Deserialize, Serialize};

use super::json::{self, Object};
use super::json_edit::{Style, newline, quote, remove};
use super::{EditError, Restored, claude};

/// The path of the owned key.
pub const PATH: [&str; 3] = ["security", "auth", "selectedType"];
/// The login by `GEMINI_API_KEY`.
pub const API_KEY: &str = "gemini-api-key";
/// The login by compute (metadata server) credentials.
pub const COMPUTE: &str = "compute-default-credentials";

/// What Switchyard added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    /// How many of the enclosing objects Switchyard created: 0, 1 (`auth`)
    /// or 2 (`security` and `auth`).
    pub created: usize,
    /// The value that was there (JSON text); `None`: the key was absent.
    pub value: Option<String>,
}

/// The selected login, if any.
pub fn selected(text: &str) -> Result<Option<String>, EditError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(claude::invalid)?;
    Ok(PATH
        .iter()
        .try_fold(&value, |v, key| v.get(key))
        .and_then(|v| v.as_str())
        .map(str::to_owned))
}

/// Selects `login` if no login is selected; a selection that is there stays.
pub fn point(text: &str, login: &str) -> Result<(String, Previous), EditError> {
    if let Some(old) = selected(text)? {
        let previous = Previous {
            created: 0,
            value: Some(quote(&old)),
        };
        return Ok((text.to_owned(), previous));
    }
    let mut text = if text.trim().is_empty() {
        format!("{{}}{}", newline(text))
    } else {
        text.to_owned()
    };
    let mut created = 0;
    for (depth, key) in PATH.iter().enumerate() {
        let object = object_at_depth(&text, depth)?;
        let last = depth + 1 == PATH.len();
        match (object.member(key), last) {
            (Some(_), false) => continue,
            (Some(_), true) => {
                return Err(EditError::new(format!(
                    "`{}` is not a string",
                    PATH.join(".")
                )));
            }
            (None, false) if created == 0 => created = PATH.len() - 1 - depth,
            (None, _) => {}
        }
        let value = if last { quote(login) } else { "{}".to_owned() };
        text = Style::of(&text, &object).insert(&text, &object, key, &value);
    }
    Ok((
        text,
        Previous {
            created,
            value: None,
        },
    ))
}

/// Takes the selection back out if it is still the one in `written`, and the
/// objects Switchyard created around it if nothing else went into them.
pub fn restore(text: &str, previous: &Previous, written: &str) -> Result<Restored, EditError> {
    if previous.value.is_some() {
        // Switchyard changed nothing here.
        return Ok(Restored::plain(text));
    }
    let now = selected(text)?;
    let ours = selected(written)?;
    match now {
        None => return Ok(Restored::plain(text)),
        Some(now) if Some(&now) != ours.as_ref() => {
            return Ok(Restored::keeping(
                text,
                format!("{} = {}", PATH.join("."), quote(&now)),
            ));
        }
        Some(_) => {}
    }
    let mut text = text.to_owned();
    // Innermost first: the key, then each object Switchyard created, if empty.
    for depth in (PATH.len() - 1 - previous.created..PATH.len()).rev() {
        let parent = object_at_depth(&text, depth)?;
        let Some((index, member)) = parent.member(PATH[depth]) else {
            break;
        };
        let last = depth + 1 == PATH.len();
        if !last && json::object_at(&text, member.value.start).is_none_or(|o| !o.members.is_empty())
        {
            break;
        }
        text = remove(&text, &parent, index);
    }
    Ok(Restored::plain(&text))
}

/// Whether nothing is left (whitespace or an empty object).
pub fn is_empty(text: &str) -> bool {
    claude::is_empty(text)
}

/// The object at `depth` along `PATH` (0: the root).
fn object_at_depth(text: &str, depth: usize) -> Result<Object, EditError> {
    let shape = |key: &str| EditError::new(format!("`{key}` is not an object"));
    let mut object = claude::parse(text)?;
    for key in &PATH[..depth] {
        let (_, member) = object.member(key).ok_or_else(|| shape(key))?;
        object = json::object_at(text, member.value.start).ok_or_else(|| shape(key))?;
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(original: &str, expected: &str) {
        let (pointed, previous) = point(original, API_KEY).unwrap();
        assert_eq!(pointed, expected);
        assert_eq!(selected(&pointed).unwrap().as_deref(), Some(API_KEY));
        let restored = restore(&pointed, &previous, &pointed).unwrap();
        assert_eq!(restored.text, original);
        assert!(restored.kept.is_empty());
    }

    #[test]
    fn the_login_is_added_at_whatever_depth_is_missing_and_taken_out_again() {
        round_trip(
            "{\n  \"theme\": \"dark\"\n}\n",
            "{\n  \"theme\": \"dark\",\n  \"security\": {\n    \"auth\": {\n      \"selectedType\": \"gemini-api-key\"\n    }\n  }\n}\n",
        );
        round_trip(
            "{\n  \"security\": {\n    \"folderTrust\": {\"enabled\": true}\n  }\n}",
            "{\n  \"security\": {\n    \"folderTrust\": {\"enabled\": true},\n    \"auth\": {\n      \"selectedType\": \"gemini-api-key\"\n    }\n  }\n}",
        );
        round_trip(
            "{\"security\":{\"auth\":{\"useExternal\":false}}}",
            "{\"security\":{\"auth\":{\"useExternal\":false, \"selectedType\":\"gemini-api-key\"}}}",
        );
    }

    #[test]
    fn an_empty_or_absent_file_gets_just_the_selection() {
        let (pointed, previous) = point("", API_KEY).unwrap();
        assert_eq!(selected(&pointed).unwrap().as_deref(), Some(API_KEY));
        let restored = restore(&pointed, &previous, &pointed).unwrap();
        assert!(is_empty(&restored.text), "{:?}", restored.text);
    }

    #[test]
    fn a_selection_already_there_is_never_touched() {
        let text = "{\"security\":{\"auth\":{\"selectedType\":\"oauth-personal\"}}}";
        let (pointed, previous) = point(text, API_KEY).unwrap();
        assert_eq!(pointed, text);
        assert_eq!(restore(text, &previous, text).unwrap().text, text);
    }

    #[test]
    fn a_login_the_user_chose_meanwhile_is_kept_and_said() {
        let (pointed, previous) = point("{}", API_KEY).unwrap();
        let chosen = pointed.replace(API_KEY, "oauth-personal");
        let restored = restore(&chosen, &previous, &pointed).unwrap();
        assert_eq!(restored.text, chosen);
        assert_eq!(
            restored.kept,
            ["security.auth.selectedType = \"oauth-personal\""]
        );
        // Something the user added beside it keeps the object.
        let beside = pointed.replace(
            "\"selectedType\"",
            "\"useExternal\": false, \"selectedType\"",
        );
        let restored = restore(&beside, &previous, &pointed).unwrap();
        assert!(
            restored.text.contains("\"useExternal\": false"),
            "{}",
            restored.text
        );
        assert!(!restored.text.contains("selectedType"), "{}", restored.text);
    }

    #[test]
    fn odd_shapes_are_refused() {
        assert!(point("{\"security\": 3}", API_KEY).is_err());
        assert!(point("[1]", API_KEY).is_err());
        assert!(point("{\"a\":", API_KEY).is_err());
    }
}
