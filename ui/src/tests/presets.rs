//! `+`: add a provider to the selected app from a curated preset.

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::{PresetInfo, Reply, Request};
use switchyard_daemon::translate::Format;

use super::*;
use crate::model::Popup;

fn preset(id: &str, name: &str, base_url: &str, key: Option<&str>) -> PresetInfo {
    PresetInfo {
        id: id.to_owned(),
        name: name.to_owned(),
        apps: vec![App::Claude],
        base_url: base_url.to_owned(),
        format: Format::Anthropic,
        auth: "x-api-key".to_owned(),
        key_env: key.map(str::to_owned),
        model_map: Vec::new(),
        docs: String::new(),
        note: None,
    }
}

fn with_picker() -> Model {
    let mut model = attached(snapshot(super::all_running()));
    let action = update(&mut model, key('+'));
    assert!(
        matches!(
            action,
            Some(Action::Request(Request::ProviderPresets {
                app: Some(App::Claude)
            }))
        ),
        "{action:?}"
    );
    let items = vec![
        preset(
            "deepseek",
            "DeepSeek",
            "https://api.deepseek.com/anthropic",
            Some("DEEPSEEK_API_KEY"),
        ),
        preset(
            "openrouter",
            "OpenRouter",
            "https://openrouter.ai/api",
            Some("OPENROUTER_API_KEY"),
        ),
        preset("local", "A local server", "http://127.0.0.1:8080", None),
    ];
    update(
        &mut model,
        Msg::Reply {
            request: Request::ProviderPresets {
                app: Some(App::Claude),
            },
            result: Ok(Reply::Presets(items)),
        },
    );
    model
}

#[test]
fn plus_lists_presets_and_enter_adds_one() {
    let mut model = with_picker();
    assert!(matches!(
        model.popup,
        Some(Popup::Presets {
            app: App::Claude,
            selected: 0,
            ..
        })
    ));
    update(&mut model, key('j'));
    let Some(Action::Request(Request::ProviderAdd(spec))) =
        update(&mut model, code(KeyCode::Enter))
    else {
        panic!("Enter adds the preset");
    };
    assert_eq!(
        (
            spec.app,
            spec.name.as_str(),
            spec.preset.as_deref(),
            spec.base_url
        ),
        (App::Claude, "openrouter", Some("openrouter"), None)
    );
    assert!(
        !spec.replace,
        "an existing name is refused, never replaced from here"
    );
    assert!(model.popup.is_none());
}

#[test]
fn preset_picker_120x35() {
    assert_snapshot!(render(&with_picker(), 120, 35).backend());
}

#[test]
fn preset_picker_80x24() {
    assert_snapshot!(render(&with_picker(), 80, 24).backend());
}
