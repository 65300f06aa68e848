//! The Connect operations on users, routing profiles, hierarchy groups, phone numbers and tags: the bodies of
//! [`ConnectApi`] for [`SdkConnect`] (the trait impl in `mod.rs` calls these).

use super::*;

impl SdkConnect {
    pub(super) async fn list_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<UserInfo>> {
        self.list_user_summaries(region, instance_id, priority, |u| UserInfo {
            id: u.id().unwrap_or_default().into(),
            username: u.username().unwrap_or_default().into(),
            ..Default::default()
        })
        .await
    }

    /// As [`Self::list_users`], keeping only the ids.
    pub(super) async fn list_user_ids(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<String>> {
        self.list_user_summaries(region, instance_id, priority, |u| {
            u.id().unwrap_or_default().into()
        })
        .await
    }

    /// Every page of ListUsers, each summary kept as `keep` makes it.
    async fn list_user_summaries<T: Send>(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
        keep: fn(&aws_sdk_connect::types::UserSummary) -> T,
    ) -> ConnectResult<Vec<T>> {
        self.paginate(region, "ListUsers", priority, |c, tok| async move {
            let out = c
                .list_users()
                .instance_id(instance_id)
                .max_results(1000)
                .set_next_token(tok)
                .send()
                .await
                .map_err(classify)?;
            let items: Vec<T> = out.user_summary_list().iter().map(keep).collect();
            Ok((items, out.next_token().map(str::to_string)))
        })
        .await
    }

    pub(super) async fn search_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<UserInfo>> {
        self.paginate(region, "SearchUsers", priority, |c, tok| async move {
            let out = c
                .search_users()
                .instance_id(instance_id)
                .max_results(500)
                .set_next_token(tok)
                .send()
                .await
                .map_err(classify)?;
            let items: Vec<UserInfo> = out
                .users()
                .iter()
                .map(|u| UserInfo {
                    id: u.id().unwrap_or_default().into(),
                    username: u.username().unwrap_or_default().into(),
                    details: Some(Box::new(UserDetails {
                        routing_profile_id: u.routing_profile_id().map(str::to_string),
                        hierarchy_group_id: u.hierarchy_group_id().map(str::to_string),
                        tags: u
                            .tags()
                            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                    })),
                })
                .collect();
            Ok((items, out.next_token().map(str::to_string)))
        })
        .await
    }

    pub(super) async fn list_routing_profiles(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>> {
        self.paginate(
            region,
            "ListRoutingProfiles",
            Priority::Normal,
            |c, tok| async move {
                let out = c
                    .list_routing_profiles()
                    .instance_id(instance_id)
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<NamedId> = out
                    .routing_profile_summary_list()
                    .iter()
                    .map(|r| NamedId {
                        id: r.id().unwrap_or_default().into(),
                        name: r.name().unwrap_or_default().into(),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    pub(super) async fn list_hierarchy_groups(
        &self,
        region: &str,
        instance_id: &str,
    ) -> ConnectResult<Vec<NamedId>> {
        self.paginate(
            region,
            "ListUserHierarchyGroups",
            Priority::Normal,
            |c, tok| async move {
                let out = c
                    .list_user_hierarchy_groups()
                    .instance_id(instance_id)
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<NamedId> = out
                    .user_hierarchy_group_summary_list()
                    .iter()
                    .map(|r| NamedId {
                        id: r.id().unwrap_or_default().into(),
                        name: r.name().unwrap_or_default().into(),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    pub(super) async fn list_phone_numbers(
        &self,
        region: &str,
        priority: Priority,
    ) -> ConnectResult<Vec<PhoneNumberInfo>> {
        self.paginate(
            region,
            "ListPhoneNumbersV2",
            priority,
            |c, tok| async move {
                let out = c
                    .list_phone_numbers_v2()
                    .max_results(1000)
                    .set_next_token(tok)
                    .send()
                    .await
                    .map_err(classify)?;
                let items: Vec<PhoneNumberInfo> = out
                    .list_phone_numbers_summary_list()
                    .iter()
                    .map(|p| PhoneNumberInfo {
                        id: p.phone_number_id().unwrap_or_default().into(),
                        arn: p.phone_number_arn().unwrap_or_default().into(),
                        number: p.phone_number().unwrap_or_default().into(),
                        target_arn: p.target_arn().map(str::to_string),
                        instance_id: p.instance_id().map(str::to_string),
                    })
                    .collect();
                Ok((items, out.next_token().map(str::to_string)))
            },
        )
        .await
    }

    pub(super) async fn tag_resource(
        &self,
        region: &str,
        arn: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> ConnectResult<()> {
        let tags: std::collections::HashMap<String, String> =
            tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.call(region, "TagResource", Priority::Normal, |c| async move {
            c.tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn untag_resource(
        &self,
        region: &str,
        arn: &str,
        keys: &[String],
    ) -> ConnectResult<()> {
        self.call(region, "UntagResource", Priority::Normal, |c| async move {
            c.untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    pub(super) async fn update_phone_number(
        &self,
        region: &str,
        phone_number_id: &str,
        target_arn: &str,
        client_token: &str,
    ) -> ConnectResult<()> {
        self.call(
            region,
            "UpdatePhoneNumber",
            Priority::Normal,
            |c| async move {
                c.update_phone_number()
                    .phone_number_id(phone_number_id)
                    .target_arn(target_arn)
                    .client_token(client_token)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            },
        )
        .await
    }
}
