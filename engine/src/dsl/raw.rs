//! The YAML shape of a definition, as written. Every leaf an analyst can get
//! wrong is `Spanned`, so that semantic errors point at a line and column.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

pub(crate) type S<T> = Spanned<T>;

/// A YAML mapping whose keys keep their positions and order (states, data
/// fields, outcomes). Duplicate keys are refused by the parser itself.
#[derive(Debug)]
pub struct SMap<T>(pub Vec<(S<String>, T)>);

impl<T> Default for SMap<T> {
    fn default() -> Self {
        SMap(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = SMap<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<SMap<T>, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<S<String>, T>()? {
                    v.push((k, val));
                }
                Ok(SMap(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<SMap<T>, E> {
                Ok(SMap(Vec::new()))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefinition {
    pub id: S<String>,
    pub title: S<String>,
    #[serde(default)]
    pub description: Option<S<String>>,
    pub object: S<String>,
    #[serde(default)]
    pub timezone: Option<S<String>>,
    #[serde(default)]
    pub data: SMap<S<RawField>>,
    #[serde(default)]
    pub events: Vec<S<String>>,
    /// Events that may come from outside (the JSON API); each must be a
    /// declared (or global) event.
    #[serde(default)]
    pub external: Vec<S<String>>,
    pub initial: S<String>,
    pub states: SMap<S<RawState>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    #[serde(rename = "type")]
    pub ty: S<String>,
    #[serde(default)]
    pub title: Option<S<String>>,
    #[serde(default)]
    pub default: Option<S<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    #[serde(default)]
    pub title: Option<S<String>>,
    #[serde(default)]
    pub description: Option<S<String>>,
    #[serde(default)]
    pub terminal: Option<S<bool>>,
    #[serde(default)]
    pub on_enter: Vec<S<RawAction>>,
    #[serde(default)]
    pub on_exit: Vec<S<RawAction>>,
    #[serde(default)]
    pub tasks: Vec<S<RawTask>>,
    #[serde(default)]
    pub on: Vec<S<RawTransition>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransition {
    #[serde(default)]
    pub event: Option<S<String>>,
    #[serde(default)]
    pub after: Option<S<String>>,
    #[serde(default)]
    pub calendar: Option<S<String>>,
    #[serde(default)]
    pub at: Option<S<String>>,
    #[serde(default)]
    pub cron: Option<S<String>>,
    #[serde(default)]
    pub when: Option<S<String>>,
    #[serde(default)]
    pub to: Option<S<String>>,
    #[serde(default, rename = "if")]
    pub guard: Option<S<String>>,
    #[serde(default)]
    pub set: SMap<S<serde_json::Value>>,
    #[serde(default)]
    pub actions: Vec<S<RawAction>>,
    #[serde(default)]
    pub title: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAction {
    pub action: S<String>,
    #[serde(default)]
    pub with: SMap<S<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTask {
    pub id: S<String>,
    pub title: S<String>,
    #[serde(default)]
    pub description: Option<S<String>>,
    #[serde(default)]
    pub roles: Vec<S<String>>,
    #[serde(default)]
    pub assignee: Option<S<String>>,
    #[serde(default)]
    pub org: Option<S<String>>,
    #[serde(default)]
    pub priority: Option<S<String>>,
    #[serde(default)]
    pub due: Option<S<RawDue>>,
    #[serde(default)]
    pub form: Vec<S<RawFormField>>,
    #[serde(default)]
    pub outcomes: SMap<S<RawOutcome>>,
    #[serde(default)]
    pub reminders: Option<S<RawReminders>>,
    #[serde(default)]
    pub escalate: Option<S<RawEscalate>>,
    #[serde(default)]
    pub on_timeout: Option<S<RawTimeout>>,
}

/// `due: 2d` or `due: {after: 2d, calendar: working}`.
#[derive(Debug)]
pub(crate) struct RawDue {
    pub after: S<String>,
    pub calendar: Option<S<String>>,
}

impl<'de> Deserialize<'de> for RawDue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            after: S<String>,
            #[serde(default)]
            calendar: Option<S<String>>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration such as 2d, or {after: 2d, calendar: working}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDue, E> {
                let unknown = serde_saphyr::Location::UNKNOWN;
                Ok(RawDue {
                    after: Spanned::new(v.to_string(), unknown, unknown),
                    calendar: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawDue, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(RawDue {
                    after: full.after,
                    calendar: full.calendar,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFormField {
    pub id: S<String>,
    #[serde(rename = "type", default)]
    pub ty: Option<S<String>>,
    #[serde(default)]
    pub label: Option<S<String>>,
    #[serde(default)]
    pub help: Option<S<String>>,
    #[serde(default)]
    pub required: Option<S<bool>>,
    #[serde(default)]
    pub required_if: Vec<S<String>>,
    #[serde(default)]
    pub validation: Option<S<RawValidation>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawValidation {
    #[serde(default)]
    pub min: Option<S<f64>>,
    #[serde(default)]
    pub max: Option<S<f64>>,
    #[serde(default)]
    pub pattern: Option<S<String>>,
    #[serde(default)]
    pub options: Vec<S<RawOption>>,
}

/// `options: [a, b]` or `options: [{value: a, label: "А"}]`.
#[derive(Debug)]
pub(crate) struct RawOption {
    pub value: String,
    pub label: Option<String>,
}

impl<'de> Deserialize<'de> for RawOption {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            value: String,
            #[serde(default)]
            label: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawOption;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an option value, or {value: …, label: …}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawOption, E> {
                Ok(RawOption {
                    value: v.to_string(),
                    label: None,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawOption, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawOption, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawOption, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawOption, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(RawOption {
                    value: full.value,
                    label: full.label,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutcome {
    pub title: S<String>,
    pub to: S<String>,
    #[serde(default)]
    pub set: SMap<S<serde_json::Value>>,
    #[serde(default)]
    pub actions: Vec<S<RawAction>>,
    #[serde(default)]
    pub requires: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReminders {
    pub every: S<String>,
    #[serde(default)]
    pub calendar: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEscalate {
    pub after: S<String>,
    #[serde(default)]
    pub calendar: Option<S<String>>,
    pub to_role: S<String>,
    #[serde(default)]
    pub org: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeout {
    pub after: S<String>,
    #[serde(default)]
    pub calendar: Option<S<String>>,
    pub outcome: S<String>,
}
