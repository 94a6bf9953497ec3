//! The request inspector (Enter on a traffic row) and `y` (copy as JSON).

use crossterm::event::KeyCode;
use insta::assert_snapshot;
use switchyard_daemon::apps::App;
use switchyard_daemon::protocol::requests::{Failover, Headers, Outcome, RequestKey, Tokens};
use switchyard_daemon::protocol::state::EventKind;
use switchyard_daemon::protocol::{Reply, Request};

use super::*;
use crate::model::{Detail, Focus, Popup};

/// Two requests in the traffic pane: a plain one, then one that failed over
/// twice, used tokens and was cut by the upstream.
fn with_traffic() -> Model {
    let mut model = attached(snapshot(super::all_running()));
    update(
        &mut model,
        request(SEQ + 1, NOW - 5_000, App::Claude, "/v1/messages", 200, 812),
    );
    let Msg::Conn(crate::msg::ConnMsg::Event(mut event)) = request(
        SEQ + 2,
        NOW - 1_000,
        App::Codex,
        "/v1/responses",
        200,
        4_210,
    ) else {
        unreachable!()
    };
    if let EventKind::RequestsFinished { requests, .. } = &mut event.kind {
        let r = &mut requests[0];
        r.outcome = Outcome::Cut;
        r.model = Some("gpt-5-codex".to_owned());
        r.failovers = vec![
            Failover {
                provider: "backup".to_owned(),
                reason: "status 529".to_owned(),
            },
            Failover {
                provider: "spare".to_owned(),
                reason: "connect timed out".to_owned(),
            },
        ];
        r.tokens = Tokens {
            input: Some(12_000),
            output: Some(1_840),
            cache_read: Some(3_000),
            cache_write: Some(0),
            cache_write_1h: None,
            reasoning: Some(512),
        };
        r.cost_nano_usd = Some(31_400_000);
        r.queue_ms = Some(3);
        r.error = Some("the upstream went idle for 300 s".to_owned());
    }
    update(&mut model, Msg::Conn(crate::msg::ConnMsg::Event(event)));
    model.focus = Focus::Traffic;
    model
}

#[test]
fn enter_inspects_the_selected_request_and_y_copies_it() {
    let mut model = with_traffic();
    let Some(Action::Request(Request::RequestDetail(asked))) =
        update(&mut model, code(KeyCode::Enter))
    else {
        panic!("Enter asks for the headers");
    };
    let Some(Popup::Inspect(entry)) = &model.popup else {
        panic!("no inspector: {:?}", model.popup);
    };
    assert_eq!(asked, RequestKey::of(&entry.record));
    assert_eq!(model.inspected, Detail::Loading);
    assert_eq!(
        entry.record.path, "/v1/responses",
        "the newest row is selected"
    );
    let Some(Action::Copy(json)) = update(&mut model, key('y')) else {
        panic!("y copies");
    };
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["outcome"], "cut");
    assert_eq!(value["failovers"].as_array().map(Vec::len), Some(2));
    assert!(model.popup.is_some(), "y leaves the inspector open");
    update(&mut model, code(KeyCode::Esc));
    assert!(model.popup.is_none());

    // ↑ selects the older row.
    update(&mut model, code(KeyCode::Up));
    update(&mut model, code(KeyCode::Enter));
    let Some(Popup::Inspect(entry)) = &model.popup else {
        panic!("no inspector");
    };
    assert_eq!(entry.record.path, "/v1/messages");
}

#[test]
fn osc52_carries_the_text_in_base64() {
    assert_eq!(crate::perform::osc52("hi"), "\x1b]52;c;aGk=\x07");
}

#[test]
fn traffic_marks_cut_streams_with_tokens_and_failovers() {
    let model = with_traffic();
    assert_snapshot!(render(&model, 120, 35).backend());
}

#[test]
fn inspector_120x35() {
    let mut model = with_traffic();
    update(&mut model, code(KeyCode::Enter));
    assert_snapshot!(render(&model, 120, 35).backend());
}

#[test]
fn inspector_80x24() {
    let mut model = with_traffic();
    update(&mut model, code(KeyCode::Enter));
    assert_snapshot!(render(&model, 80, 24).backend());
}

/// The inspector once the store answered with the (already masked) headers.
fn with_headers() -> Model {
    let mut model = with_traffic();
    let Some(Action::Request(request)) = update(&mut model, code(KeyCode::Enter)) else {
        panic!("Enter asks for the headers");
    };
    let headers = Headers {
        request: "host: 127.0.0.1:15722\ncontent-type: application/json\n\
                  authorization: Bearer sk-…WXYZ\nuser-agent: codex_cli_rs/0.46.0\n"
            .to_owned(),
        response: "content-type: text/event-stream\nx-request-id: req_123\n\
                   set-cookie: <masked>\n… 3 more not shown\n"
            .to_owned(),
    };
    update(
        &mut model,
        Msg::Reply {
            request,
            result: Ok(Reply::RequestDetail(Some(Box::new(headers)))),
        },
    );
    model
}

#[test]
fn inspector_with_headers_120x35() {
    let model = with_headers();
    assert!(matches!(model.inspected, Detail::Loaded(_)));
    assert_snapshot!(render(&model, 120, 35).backend());
}

#[test]
fn inspector_with_headers_80x24() {
    assert_snapshot!(render(&with_headers(), 80, 24).backend());
}

#[test]
fn an_answer_for_another_request_is_ignored_and_a_missing_one_said() {
    let mut model = with_traffic();
    update(&mut model, code(KeyCode::Enter));
    let Some(Popup::Inspect(entry)) = &model.popup else {
        panic!("no inspector");
    };
    let mut other = RequestKey::of(&entry.record);
    let mine = other.clone();
    other.time_ms += 1;
    update(
        &mut model,
        Msg::Reply {
            request: Request::RequestDetail(other),
            result: Ok(Reply::RequestDetail(Some(Box::default()))),
        },
    );
    assert_eq!(model.inspected, Detail::Loading);
    update(
        &mut model,
        Msg::Reply {
            request: Request::RequestDetail(mine),
            result: Ok(Reply::RequestDetail(None)),
        },
    );
    assert_eq!(model.inspected, Detail::Missing);
}

/// The traffic filter: `a` the app, `s` the status class (aborted/cut,
/// failed over, …), `/` the model or provider; Enter inspects within it.
#[test]
fn traffic_filters_by_app_status_class_and_model() {
    let mut model = with_traffic();
    update(
        &mut model,
        request(SEQ + 3, NOW, App::Gemini, "/v1beta/models", 503, 40),
    );
    assert_eq!(model.shown_traffic().len(), 3);
    update(&mut model, key('a'));
    assert_eq!(model.traffic_filter.app, Some(App::Claude));
    assert_eq!(model.shown_traffic().len(), 1);
    update(&mut model, key('a'));
    update(&mut model, key('a'));
    update(&mut model, key('a'));
    assert_eq!(model.traffic_filter.app, None);
    for _ in 0..4 {
        update(&mut model, key('s'));
    }
    let shown: Vec<_> = model
        .shown_traffic()
        .iter()
        .map(|e| e.record.path.clone())
        .collect();
    assert_eq!(shown, ["/v1/responses"], "aborted/cut only");
    update(&mut model, key('s'));
    assert_eq!(model.shown_traffic().len(), 1, "failed over: the same one");
    update(&mut model, key('s'));
    assert_eq!(model.shown_traffic().len(), 3, "back to all");
    update(&mut model, key('/'));
    type_keys(&mut model, "codex");
    update(&mut model, code(KeyCode::Enter));
    assert_eq!(model.shown_traffic().len(), 1, "gpt-5-codex matches");
    update(&mut model, code(KeyCode::Enter));
    let Some(Popup::Inspect(entry)) = &model.popup else {
        panic!("no inspector");
    };
    assert_eq!(entry.record.model.as_deref(), Some("gpt-5-codex"));
    update(&mut model, code(KeyCode::Esc));
    let screen = format!("{:?}", render(&model, 120, 35).backend());
    assert!(
        screen.contains("/codex"),
        "the title says what is filtered: {screen}"
    );
}
