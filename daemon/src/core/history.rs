//! `switchyard requests` and `switchyard usage`: read-only store queries,
//! run in a task of their own so a long history never holds up the core's
//! queue (the core answers through [`Outcome::Later`]).

use tokio::sync::oneshot;

use super::{Outcome, store_failed};
use crate::protocol::Reply;
use crate::protocol::requests::{RequestKey, RequestsQuery, UsageQuery};
use crate::store::Store;
use crate::usage::Prices;

pub(super) fn requests(store: &Store, query: RequestsQuery) -> Outcome {
    let store = store.clone();
    later(async move {
        store
            .requests(query)
            .await
            .map(Reply::Requests)
            .map_err(store_failed)
    })
}

/// The inspector's `RequestDetail`: one row's masked headers.
pub(super) fn detail(store: &Store, key: RequestKey) -> Outcome {
    let store = store.clone();
    later(async move {
        store
            .request_detail(key)
            .await
            .map(|headers| Reply::RequestDetail(headers.map(Box::new)))
            .map_err(store_failed)
    })
}

/// `price_source` says where the costs' prices came from.
pub(super) fn usage(store: &Store, query: UsageQuery, prices: &Prices) -> Outcome {
    let (store, source) = (store.clone(), prices.source_note());
    later(async move {
        store
            .usage(query, source)
            .await
            .map(|report| Reply::Usage(Box::new(report)))
            .map_err(store_failed)
    })
}

fn later(
    work: impl Future<Output = Result<Reply, crate::protocol::ErrorReply>> + Send + 'static,
) -> Outcome {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let _ = tx.send(work.await);
    });
    Outcome::Later(rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::App;
    use crate::protocol::requests::{GroupBy, Outcome as RequestOutcome, RequestRecord, Tokens};

    async fn answer(outcome: Outcome) -> Reply {
        let Outcome::Later(rx) = outcome else {
            panic!("history is always answered later");
        };
        rx.await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn answers_from_the_store_off_the_core() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let record = RequestRecord {
            time_ms: 7,
            app: App::Codex,
            provider: Some("openai".into()),
            route: Some("chatgpt".into()),
            method: "POST".into(),
            path: "/responses".into(),
            model: Some("gpt-5-codex".into()),
            mapped_model: None,
            key: None,
            status: Some(200),
            outcome: RequestOutcome::Ok,
            latency_ms: 10,
            ttfb_ms: Some(5),
            queue_ms: Some(1),
            bytes_in: 1,
            bytes_out: 2,
            failovers: Vec::new(),
            tokens: Tokens {
                input: Some(3),
                ..Tokens::default()
            },
            cost_nano_usd: None,
            error: None,
            headers: None,
        };
        store.record_requests(vec![record.clone()]);
        let query = RequestsQuery {
            limit: 5,
            ..RequestsQuery::default()
        };
        let Reply::Requests(page) = answer(requests(&store, query)).await else {
            panic!("not a page");
        };
        assert_eq!(page.records, vec![record]);
        let prices = Prices::load(None).unwrap();
        let query = UsageQuery {
            since_ms: None,
            by: GroupBy::App,
            utc_offset_s: 0,
        };
        let Reply::Usage(report) = answer(usage(&store, query, &prices)).await else {
            panic!("not a report");
        };
        assert_eq!(report.total.requests, 1);
        assert_eq!(report.rows[0].key.as_deref(), Some("codex"));
        assert!(report.price_source.starts_with("prices: "));
    }
}
