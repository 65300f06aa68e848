//! Lambda bootstrap for `denylist-add`: flags the caller of the current contact (agent quick connect, rule L2).
//!
//! Built as a `provided.al2023` bootstrap binary (see docs/denylist.md). Environment:
//! `TABLE_NAME` (default `DenylistingTable`), `DEFAULT_COUNTRY_CODE` (default `1`; `none`
//! accepts international numbers only); the DynamoDB client follows the standard AWS
//! configuration (Lambda's `AWS_REGION`, so each region's function uses its local replica).

use connect_gr::denylist::{dynamo::DynamoDenylist, entry, handlers, number::NumberPolicy};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .without_time()
        .init();
    let policy = NumberPolicy::from_env()?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoDenylist::new(
        aws_sdk_dynamodb::Client::new(&config),
        handlers::table_name_from_env(),
    );
    let (store, policy) = (&store, &policy);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handlers::handle_add(store, &event.payload, policy, &entry::now_rfc3339())
            .await
            .map_err(Error::from)
    }))
    .await
}
