//! The DynamoDB implementation of [`DenylistStore`] and [`TableAdmin`]: one client, one region,
//! one table.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateReplicationGroupMemberAction,
    KeySchemaElement, KeyType, ReplicationGroupUpdate, ScalarAttributeType, StreamSpecification,
    StreamViewType,
};

use super::entry::{ATTR_MANAGED_BY, ATTR_NUMBER, ATTR_SOURCE, Entry};
use super::error::DenylistError;
use super::handlers::DenylistStore;
use super::table::{ReplicaInfo, TableAdmin, TableInfo};

/// A denylist table in one region.
#[derive(Debug, Clone)]
pub struct DynamoDenylist {
    client: Client,
    table: String,
    region: String,
}

impl DynamoDenylist {
    /// `region` is taken from the client's configuration (`"unknown"` if it has none).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let region = client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "unknown".to_string());
        Self {
            client,
            table: table.into(),
            region,
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn err<E, R>(
        &self,
        op: &str,
        e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> DenylistError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        DenylistError::from_sdk(op, e).in_region(self.region.clone())
    }
}

/// Builds a DynamoDB client for `region` from the standard AWS configuration (credential chain,
/// `AWS_ENDPOINT_URL_DYNAMODB`), with an optional explicit endpoint.
pub async fn dynamodb_client(region: &str, endpoint_url: Option<&str>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()));
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    Client::new(&loader.load().await)
}

fn is_conditional_failure<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ConditionalCheckFailedException")
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl DenylistStore for DynamoDenylist {
    async fn get(&self, number: &str) -> Result<Option<Entry>, DenylistError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ATTR_NUMBER, s(number))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", &e))?;
        Ok(out.item().and_then(Entry::from_item))
    }

    async fn put_agent(&self, entry: &Entry) -> Result<(), DenylistError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(entry.to_item()))
            .send()
            .await
            .map_err(|e| self.err("PutItem", &e))?;
        Ok(())
    }

    async fn put_if_absent(&self, entry: &Entry) -> Result<bool, DenylistError> {
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(entry.to_item()))
            .condition_expression("attribute_not_exists(#n)")
            .expression_attribute_names("#n", ATTR_NUMBER)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(false),
            Err(e) => Err(self.err("PutItem", &e)),
        }
    }

    async fn delete_if_managed(&self, number: &str, owner: &str) -> Result<bool, DenylistError> {
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(ATTR_NUMBER, s(number))
            .condition_expression("#s = :declared AND #m = :owner")
            .expression_attribute_names("#s", ATTR_SOURCE)
            .expression_attribute_names("#m", ATTR_MANAGED_BY)
            .expression_attribute_values(":declared", s("declared"))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(false),
            Err(e) => Err(self.err("DeleteItem", &e)),
        }
    }

    async fn delete_unless_agent(&self, number: &str, force: bool) -> Result<bool, DenylistError> {
        let mut req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(ATTR_NUMBER, s(number))
            .expression_attribute_names("#n", ATTR_NUMBER)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld);
        req = if force {
            req.condition_expression("attribute_exists(#n)")
        } else {
            req.condition_expression(
                "attribute_exists(#n) AND (attribute_not_exists(#s) OR #s <> :agent)",
            )
            .expression_attribute_names("#s", ATTR_SOURCE)
            .expression_attribute_values(":agent", s("agent"))
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(is_conditional_failure) => Ok(false),
            Err(e) => Err(self.err("DeleteItem", &e)),
        }
    }

    async fn scan(&self) -> Result<Vec<Entry>, DenylistError> {
        let mut entries = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Scan", &e))?;
            entries.extend(out.items().iter().filter_map(Entry::from_item));
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        entries.sort_by(|a, b| a.contact_number.cmp(&b.contact_number));
        Ok(entries)
    }
}

impl TableAdmin for DynamoDenylist {
    fn region(&self) -> &str {
        &self.region
    }

    fn table_name(&self) -> &str {
        &self.table
    }

    async fn describe_table(&self) -> Result<Option<TableInfo>, DenylistError> {
        let out = match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(self.err("DescribeTable", &e)),
        };
        let Some(t) = out.table() else {
            return Ok(None);
        };
        let hash_key = t
            .key_schema()
            .iter()
            .find(|k| k.key_type() == &KeyType::Hash)
            .map(|k| k.attribute_name().to_string());
        let hash_key_type = hash_key.as_ref().and_then(|name| {
            t.attribute_definitions()
                .iter()
                .find(|a| a.attribute_name() == name)
                .map(|a| a.attribute_type().as_str().to_string())
        });
        let stream_view_type = t
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .map(|s| {
                s.stream_view_type()
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default()
            });
        Ok(Some(TableInfo {
            status: t
                .table_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            hash_key,
            hash_key_type,
            range_key: t
                .key_schema()
                .iter()
                .find(|k| k.key_type() == &KeyType::Range)
                .map(|k| k.attribute_name().to_string()),
            stream_view_type,
            billing_mode: t
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|b| b.as_str().to_string()),
            global_table_version: t.global_table_version().map(str::to_string),
            replicas: t
                .replicas()
                .iter()
                .map(|r| ReplicaInfo {
                    region: r.region_name().unwrap_or_default().to_string(),
                    status: r
                        .replica_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    status_description: r.replica_status_description().map(str::to_string),
                })
                .collect(),
            item_count: t.item_count(),
        }))
    }

    async fn create_table(&self) -> Result<(), DenylistError> {
        let attr = AttributeDefinition::builder()
            .attribute_name(ATTR_NUMBER)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| DenylistError::terminal("CreateTable", e.to_string()))?;
        let key = KeySchemaElement::builder()
            .attribute_name(ATTR_NUMBER)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| DenylistError::terminal("CreateTable", e.to_string()))?;
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .map_err(|e| DenylistError::terminal("CreateTable", e.to_string()))?;
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr)
            .key_schema(key)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(stream)
            .send()
            .await
            .map_err(|e| self.err("CreateTable", &e))?;
        Ok(())
    }

    async fn enable_stream(&self) -> Result<(), DenylistError> {
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build()
            .map_err(|e| DenylistError::terminal("UpdateTable", e.to_string()))?;
        self.client
            .update_table()
            .table_name(&self.table)
            .stream_specification(stream)
            .send()
            .await
            .map_err(|e| self.err("UpdateTable", &e))?;
        Ok(())
    }

    async fn create_replica(&self, replica_region: &str) -> Result<(), DenylistError> {
        let create = CreateReplicationGroupMemberAction::builder()
            .region_name(replica_region)
            .build()
            .map_err(|e| DenylistError::terminal("UpdateTable", e.to_string()))?;
        self.client
            .update_table()
            .table_name(&self.table)
            .replica_updates(ReplicationGroupUpdate::builder().create(create).build())
            .send()
            .await
            .map_err(|e| self.err("UpdateTable", &e))?;
        Ok(())
    }
}
