//! The Connect operations on users, routing profiles, hierarchy groups, phone numbers and tags: the bodies of
//! [`ConnectApi`] for [`SdkConnect`] (the trait impl in `mod.rs` calls these).

use super::*;

impl SdkConnect {
    pub(super) async fn list_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList> {
        self.list_user_summaries(region, instance_id, priority, |u| {
            u.username().unwrap_or_default()
        })
        .await
    }

    /// As [`Self::list_users`], the usernames left empty.
    pub(super) async fn list_user_ids(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList> {
        self.list_user_summaries(region, instance_id, priority, |_| "")
            .await
    }

    /// Every page of ListUsers into one packed list, each user's id and the username `name`
    /// gives it.
    async fn list_user_summaries(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
        name: fn(&aws_sdk_connect::types::UserSummary) -> &str,
    ) -> ConnectResult<UserList> {
        let into = UserList::default();
        self.paginate_into(region, "ListUsers", priority, into, |c, tok| async move {
            let out = c
                .list_users()
                .instance_id(instance_id)
                .max_results(1000)
                .set_next_token(tok)
                .send()
                .await
                .map_err(classify)?;
            let mut page = UserList::default();
            for u in out.user_summary_list() {
                page.push(u.id().unwrap_or_default(), name(u), None);
            }
            Ok((page, out.next_token().map(str::to_string)))
        })
        .await
    }

    pub(super) async fn search_users(
        &self,
        region: &str,
        instance_id: &str,
        priority: Priority,
    ) -> ConnectResult<UserList> {
        let into = UserList::default();
        self.paginate_into(region, "SearchUsers", priority, into, |c, tok| async move {
            let out = c
                .search_users()
                .instance_id(instance_id)
                .max_results(500)
                .set_next_token(tok)
                .send()
                .await
                .map_err(classify)?;
            let mut page = UserList::default();
            for u in out.users() {
                let details = UserDetails {
                    routing_profile_id: u.routing_profile_id().map(str::to_string),
                    hierarchy_group_id: u.hierarchy_group_id().map(str::to_string),
                    tags: u
                        .tags()
                        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                };
                page.push(
                    u.id().unwrap_or_default(),
                    u.username().unwrap_or_default(),
                    Some(Box::new(details)),
                );
            }
            Ok((page, out.next_token().map(str::to_string)))
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
