//! Every connector action registered as a Temporal activity of the same name.
//!
//! The SDK names an activity by its type, so each action gets a marker type `Action<N>`, the
//! N-th name of [`ACTIONS`]; a test checks that list against the component's manifest. The
//! argument is taken as a raw payload (its JSON bytes are checked by [`crate::contract`]) and
//! the result is the action's JSON.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use temporalio_common::data_converters::RawValue;
use temporalio_common::error::ApplicationFailure;
use temporalio_common::{ActivityDefinition, ActivityError};
use temporalio_sdk::activities::{ActivityContext, ActivityDefinitions, ActivityImplementer, ExecutableActivity};

use crate::contract::Failure;
use crate::executor::{Attempt, Executor};

/// Every action of the component, in manifest order: each is an activity type.
pub const ACTIONS: [&str; 55] = [
    "test-connection",
    "list-model-breaches",
    "get-model-breach",
    "acknowledge-model-breach",
    "unacknowledge-model-breach",
    "add-model-breach-comment",
    "list-model-breach-comments",
    "get-device",
    "search-devices",
    "get-model-breach-connections",
    "list-comments",
    "list-ai-analyst-incidents",
    "get-ai-analyst-incident",
    "list-ai-analyst-groups",
    "get-ai-analyst-group",
    "acknowledge-ai-analyst-incident",
    "unacknowledge-ai-analyst-incident",
    "pin-ai-analyst-incident",
    "unpin-ai-analyst-incident",
    "add-ai-analyst-comment",
    "list-ai-analyst-comments",
    "start-ai-analyst-investigation",
    "get-ai-analyst-investigation",
    "list-devices",
    "get-device-summary",
    "list-similar-devices",
    "get-device-connection-info",
    "list-device-events",
    "update-device",
    "list-tags",
    "list-device-tags",
    "list-tagged-devices",
    "add-device-tag",
    "remove-device-tag",
    "get-endpoint-details",
    "list-models",
    "get-model",
    "get-model-component",
    "get-enums",
    "advanced-search",
    "list-subnets",
    "list-respond-actions",
    "activate-respond-action",
    "clear-respond-action",
    "extend-respond-action",
    "reactivate-respond-action",
    "create-manual-respond-action",
    "get-respond-summary",
    "list-watched-domains",
    "add-watched-domains",
    "remove-watched-domains",
    "get-status",
    "get-summary-statistics",
    "poll-model-breaches",
    "poll-ai-analyst-incidents",
];

/// The activity type of the N-th action.
pub struct Action<const N: usize>;

impl<const N: usize> ActivityDefinition for Action<N> {
    type Input = RawValue;
    type Output = Value;

    fn name(&self) -> &str {
        ACTIONS[N]
    }
}

type ActivityFuture = Pin<Box<dyn Future<Output = Result<Value, ActivityError>> + Send + 'static>>;

impl<const N: usize> ExecutableActivity for Action<N> {
    type Implementer = Activities;
    const REQUIRES_INSTANCE: bool = true;

    fn definition() -> Self {
        Action
    }

    fn execute(receiver: Option<Arc<Activities>>, ctx: ActivityContext, input: RawValue) -> ActivityFuture {
        Box::pin(async move {
            let Some(activities) = receiver else {
                return Err(to_activity_error(Failure::new(
                    "host",
                    "the worker registered an activity without its executor",
                )));
            };
            let info = ctx.info();
            let attempt = Attempt {
                workflow_id: info.workflow_id.clone().unwrap_or_default(),
                activity_id: info.activity_id.clone(),
                attempt: info.attempt,
                scheduled_ms: info.scheduled_time.map_or(0, epoch_ms),
            };
            let data = input.payloads.first().map(|p| p.data.as_slice()).unwrap_or_default();
            activities.executor.run(ACTIONS[N], data, &attempt).await.map_err(to_activity_error)
        })
    }
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The application failure for `failure`: typed by the error case, non-retryable as the
/// contract says, with the appliance's Retry-After as the next delay.
pub fn to_activity_error(failure: Failure) -> ActivityError {
    let app = ApplicationFailure::builder(anyhow::anyhow!(failure.message))
        .type_name(failure.kind)
        .non_retryable(failure.non_retryable)
        .maybe_next_retry_delay(failure.next_retry_delay)
        .build();
    ActivityError::Application(Box::new(app))
}

/// The activities of one worker, sharing its executor.
pub struct Activities {
    executor: Arc<Executor>,
}

impl Activities {
    /// Activities run by `executor`.
    pub fn new(executor: Arc<Executor>) -> Self {
        Activities { executor }
    }
}

macro_rules! register_each {
    ($defs:expr, $me:expr, $($n:literal)*) => {
        $( $defs.register_activity::<Action<$n>>($me.clone()); )*
    };
}

impl ActivityImplementer for Activities {
    fn register_all(self: Arc<Self>, defs: &mut ActivityDefinitions) {
        register_each!(defs, self, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
            30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_activity_types_are_exactly_the_manifest_actions() {
        let manifest: Value =
            serde_json::from_str(include_str!("../../../manifests/darktrace.json")).expect("manifest JSON");
        let names: Vec<&str> =
            manifest["actions"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(names, ACTIONS, "update ACTIONS (and register_all) to the manifest's actions");
        let defs_names = {
            let mut defs = ActivityDefinitions::default();
            let dir = std::env::temp_dir();
            let executor = Executor::new(crate::executor::ExecutorConfig {
                store: dir.join("unused-store.json"),
                component: dir.join("unused.wasm"),
                limits: Default::default(),
                cache_dir: None,
                concurrency: 1,
                abort_after: None,
            });
            Arc::new(Activities::new(Arc::new(executor))).register_all(&mut defs);
            format!("{defs:?}")
        };
        for name in ACTIONS {
            assert!(defs_names.contains(&format!("\"{name}\"")), "{name} not registered: {defs_names}");
        }
    }
}
