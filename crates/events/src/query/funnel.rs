//! Funnels (keen-api.md §5.10): how many actors did step 1, then how many of those did step 2,
//! and so on. Step order in time is not enforced (Keen's own guide says so). `inverted` keeps
//! the actors who did *not* do a step; `optional` counts a step without narrowing the actors
//! for later steps; `with_actors` returns the step's actors. The first step can be neither
//! optional nor inverted.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::analysis::values::canonical;
use super::analysis::{Analysis, AnalysisType};
use super::answer::Answer;
pub use super::engine::ActorSet;
use super::filter::{Filter, parse_filters};
use super::timeframe::{TimeRange, Timezone, resolve};
use crate::CollectionName;

/// One step, resolved against the query's defaults.
#[derive(Debug, Clone)]
pub struct FunnelStep {
    pub collection: CollectionName,
    pub range: Option<TimeRange>,
    pub filters: Vec<Filter>,
    actor_property: Vec<String>,
    optional: bool,
    inverted: bool,
    with_actors: bool,
    /// The step as the response echoes it.
    echo: Value,
}

/// A parsed funnel.
#[derive(Debug, Clone)]
pub struct Funnel {
    pub steps: Vec<FunnelStep>,
}

/// Why a funnel cannot be answered: a Keen error name and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FunnelError {
    pub code: &'static str,
    pub message: String,
}

fn error(code: &'static str, message: impl Into<String>) -> FunnelError {
    FunnelError { code, message: message.into() }
}

impl Funnel {
    /// Reads `steps`, with the top-level `timeframe` and `timezone` as defaults, at `now_ms`.
    pub fn parse(params: &Map<String, Value>, now_ms: i64) -> Result<Funnel, FunnelError> {
        let present = |map: &Map<String, Value>, key: &str| map.get(key).filter(|v| !v.is_null()).cloned();
        let steps = match params.get("steps") {
            Some(Value::Array(steps)) if !steps.is_empty() => steps,
            _ => return Err(error("InvalidStepsError", "steps must be a non-empty list of steps")),
        };
        let mut parsed = Vec::with_capacity(steps.len());
        for (index, step) in steps.iter().enumerate() {
            let n = index + 1;
            let step = step
                .as_object()
                .ok_or_else(|| error("InvalidStepsError", format!("step {n} must be an object")))?;
            let collection = match step.get("event_collection") {
                Some(Value::String(name)) => {
                    CollectionName::parse(name).map_err(|m| error("InvalidCollectionNameError", m))?
                }
                _ => {
                    return Err(error(
                        "MissingRequiredPropertyError",
                        format!("step {n} needs an event_collection"),
                    ));
                }
            };
            let actor_property = match step.get("actor_property") {
                Some(Value::String(path)) if !path.is_empty() => path.split('.').map(str::to_owned).collect(),
                _ => {
                    return Err(error(
                        "MissingRequiredPropertyError",
                        format!("step {n} needs an actor_property"),
                    ));
                }
            };
            let timeframe = present(step, "timeframe").or_else(|| present(params, "timeframe"));
            let timezone_value = present(step, "timezone").or_else(|| present(params, "timezone"));
            let timezone = Timezone::parse(timezone_value.as_ref())
                .map_err(|e| error(e.keen_error_code(), format!("step {n}: {e}")))?;
            let range = timeframe
                .as_ref()
                .map(|t| {
                    resolve(t, timezone, now_ms)
                        .map_err(|e| error(e.keen_error_code(), format!("step {n}: {e}")))
                })
                .transpose()?;
            let filters = parse_filters(step.get("filters"))
                .map_err(|e| error(e.keen_error_code(), format!("step {n}: {e}")))?;
            let flag = |key: &str| step.get(key).and_then(Value::as_bool).unwrap_or(false);
            let (optional, inverted, with_actors) = (flag("optional"), flag("inverted"), flag("with_actors"));
            if index == 0 && (optional || inverted) {
                return Err(error(
                    "InvalidStepsError",
                    "the first step can be neither optional nor inverted",
                ));
            }
            let echo = json!({
                "event_collection": collection.as_str(),
                "actor_property": step["actor_property"],
                "timeframe": timeframe,
                "timezone": timezone_value,
                "filters": step.get("filters").cloned().unwrap_or_else(|| json!([])),
                "optional": optional,
                "inverted": inverted,
                "with_actors": with_actors,
            });
            parsed.push(FunnelStep {
                collection,
                range,
                filters,
                actor_property,
                optional,
                inverted,
                with_actors,
                echo,
            });
        }
        Ok(Funnel { steps: parsed })
    }

    /// Whether a step asks for its actors. Then every step's actors are needed in order
    /// (`evaluate`); otherwise sets of them do (`count`), which are cheaper to make.
    pub fn lists_actors(&self) -> bool {
        self.steps.iter().any(|step| step.with_actors)
    }

    /// The response body: `result` (one count per step), `steps` echoed, and `actors` when a
    /// step asked for them. `actors_of_step(step)` gives the distinct values of the step's
    /// actor property among its events (collection, timeframe and filters applied), in
    /// first-seen order (`FunnelStep::actor_analysis` computes them, as an array), or the error
    /// that stops the funnel. The actors are read where the answers hold them, and copied only
    /// for `with_actors`.
    pub fn evaluate<E>(
        &self,
        actors_of_step: impl FnMut(&FunnelStep) -> Result<Answer, E>,
    ) -> Result<Map<String, Value>, E> {
        let answers = self.steps.iter().map(actors_of_step).collect::<Result<Vec<Answer>, E>>()?;
        let did = answers
            .iter()
            .map(|answer| Ordered(answer.as_array().map_or(Vec::new(), |a| a.iter().collect())));
        let mut actors = Vec::with_capacity(self.steps.len());
        let counts = self.narrow(did, |step, matched| {
            actors.push(match step.with_actors {
                true => Value::Array(matched.0.iter().map(|&value| value.clone()).collect()),
                false => Value::Null,
            });
        });
        Ok(self.body(counts, self.lists_actors().then_some(actors)))
    }

    /// The response body of a funnel whose steps do not list their actors (`lists_actors`):
    /// as `evaluate`, from each step's actors as a set (`FunnelStep::actor_count` is the
    /// count_unique whose values they are).
    pub fn count<E>(
        &self,
        actors_of_step: impl FnMut(&FunnelStep) -> Result<ActorSet, E>,
    ) -> Result<Map<String, Value>, E> {
        let did = self.steps.iter().map(actors_of_step).collect::<Result<Vec<ActorSet>, E>>()?;
        let counts = self.narrow(did.into_iter(), |_, _| {});
        Ok(self.body(counts, None))
    }

    /// Each step's count: the actors still in the funnel (those of the first step, narrowed
    /// by each step that is not optional) who did the step, or with `inverted` did not.
    /// `each` sees every step's actors.
    fn narrow<A: Actors>(
        &self,
        did: impl Iterator<Item = A>,
        mut each: impl FnMut(&FunnelStep, &A),
    ) -> Vec<Value> {
        let mut survivors: Option<A> = None;
        let mut counts = Vec::with_capacity(self.steps.len());
        for (step, did) in self.steps.iter().zip(did) {
            let matched = match &survivors {
                None => did,
                Some(before) => before.narrowed(&did, step.inverted),
            };
            counts.push(Value::from(matched.len()));
            each(step, &matched);
            // An optional step is counted without narrowing the funnel for the steps after it.
            if survivors.is_none() || !step.optional {
                survivors = Some(matched);
            }
        }
        counts
    }

    fn body(&self, counts: Vec<Value>, actors: Option<Vec<Value>>) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("result".into(), Value::Array(counts));
        body.insert("steps".into(), Value::Array(self.steps.iter().map(|s| s.echo.clone()).collect()));
        if let Some(actors) = actors {
            body.insert("actors".into(), Value::Array(actors));
        }
        body
    }
}

/// A step's actors as the funnel narrows them.
trait Actors {
    fn len(&self) -> usize;
    /// Those of these actors who are in `did` (with `inverted`, who are not), in this order.
    fn narrowed(&self, did: &Self, inverted: bool) -> Self;
}

/// Actors in order: the step's answer's values, or the first step's as the funnel narrows
/// them.
struct Ordered<'a>(Vec<&'a Value>);

impl Actors for Ordered<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn narrowed(&self, did: &Self, inverted: bool) -> Self {
        let did: HashSet<Actor<'_>, foldhash::fast::RandomState> =
            did.0.iter().map(|value| actor(value)).collect();
        Ordered(self.0.iter().copied().filter(|value| did.contains(&actor(value)) != inverted).collect())
    }
}

impl Actors for ActorSet {
    fn len(&self) -> usize {
        ActorSet::len(self)
    }

    fn narrowed(&self, did: &Self, inverted: bool) -> Self {
        ActorSet::narrowed(self, did, inverted)
    }
}

/// Who an actor is: a string as itself, any other value by its canonical JSON (which starts
/// with no quote, so it never equals a string's).
#[derive(PartialEq, Eq, Hash)]
enum Actor<'a> {
    Text(&'a str),
    Other(String),
}

fn actor(value: &Value) -> Actor<'_> {
    match value {
        Value::String(text) => Actor::Text(text),
        other => {
            let mut key = String::new();
            canonical(other, &mut key);
            Actor::Other(key)
        }
    }
}

impl FunnelStep {
    /// The analysis whose result is the step's actors: `select_unique` of the actor property
    /// (distinct values in first-seen order, missing and null skipped).
    pub fn actor_analysis(&self) -> Analysis {
        self.analysis_of_actors(AnalysisType::SelectUnique)
    }

    /// The count_unique of the actor property, whose distinct values are the step's actors as
    /// a set (`Funnel::count`).
    pub fn actor_count(&self) -> Analysis {
        self.analysis_of_actors(AnalysisType::CountUnique)
    }

    fn analysis_of_actors(&self, kind: AnalysisType) -> Analysis {
        let params =
            Map::from_iter([("target_property".to_owned(), Value::from(self.actor_property.join(".")))]);
        Analysis::parse(kind, &params).expect("an actor property is a property path")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(steps: Value, data: &[(&str, Value)]) -> Map<String, Value> {
        let params = json!({ "steps": steps });
        let funnel = Funnel::parse(params.as_object().unwrap(), 0).unwrap();
        let evaluated = funnel.evaluate(|step| {
            let events: Vec<&Value> = data
                .iter()
                .filter(|(c, _)| *c == step.collection.as_str())
                .map(|(_, e)| e)
                .filter(|e| step.filters.iter().all(|f| f.matches(e)))
                .collect();
            let actors =
                step.actor_analysis().evaluate(events.into_iter().map(|e| (0, e)), None, Timezone::default());
            Ok::<_, ()>(Answer::new(actors.unwrap()))
        });
        evaluated.unwrap()
    }

    fn step(collection: &str, extra: Value) -> Value {
        let mut step = json!({"event_collection": collection, "actor_property": "user.id"});
        step.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        step
    }

    fn data() -> Vec<(&'static str, Value)> {
        vec![
            ("visits", json!({"user": {"id": "bob"}})),
            ("visits", json!({"user": {"id": "ted"}})),
            ("visits", json!({"user": {"id": "ann"}})),
            ("visits", json!({"user": {"id": "bob"}})),
            ("signups", json!({"user": {"id": "bob"}})),
            ("signups", json!({"user": {"id": "ted"}})),
            ("purchases", json!({"user": {"id": "bob"}, "plan": "pro"})),
            ("purchases", json!({"user": {"id": "zed"}})),
        ]
    }

    #[test]
    fn counts_narrow_step_by_step() {
        let body = run(
            json!([step("visits", json!({})), step("signups", json!({})), step("purchases", json!({}))]),
            &data(),
        );
        assert_eq!(body["result"], json!([3, 2, 1]));
        assert!(body.get("actors").is_none());
        assert_eq!(body["steps"][1]["event_collection"], "signups");
    }

    #[test]
    fn inverted_optional_with_actors_and_filters() {
        let steps = json!([
            step("visits", json!({"with_actors": true})),
            step("signups", json!({"inverted": true, "with_actors": true})),
        ]);
        let body = run(steps, &data());
        assert_eq!(body["result"], json!([3, 1]));
        assert_eq!(body["actors"], json!([["bob", "ted", "ann"], ["ann"]]));

        let steps = json!([
            step("visits", json!({})),
            step("purchases", json!({"optional": true})),
            step("signups", json!({})),
        ]);
        assert_eq!(run(steps, &data())["result"], json!([3, 1, 2]), "an optional step does not narrow");

        let pro = json!({"filters": [{"property_name": "plan", "operator": "eq", "property_value": "pro"}]});
        assert_eq!(run(json!([step("purchases", pro)]), &data())["result"], json!([1]));
    }

    #[test]
    fn refusals() {
        for (params, code) in [
            (json!({}), "InvalidStepsError"),
            (json!({"steps": []}), "InvalidStepsError"),
            (json!({"steps": [{"actor_property": "u"}]}), "MissingRequiredPropertyError"),
            (json!({"steps": [{"event_collection": "v"}]}), "MissingRequiredPropertyError"),
            (
                json!({"steps": [{"event_collection": "v", "actor_property": "u", "optional": true}]}),
                "InvalidStepsError",
            ),
            (
                json!({"steps": [{"event_collection": "v", "actor_property": "u", "timeframe": "this_0_days"}]}),
                "TimeframeDefinitionError",
            ),
        ] {
            let err = Funnel::parse(params.as_object().unwrap(), 0).unwrap_err();
            assert_eq!(err.code, code, "{params}");
        }
    }
}
