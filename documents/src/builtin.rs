//! The built-in templates, embedded in the binary: the first version of
//! every document, and what the domain falls back to while no version edited
//! by an analyst is active.
//!
//! Each template `documents/templates/<key>.typ` has sample data
//! `<key>.sample.json` that documents the shape of the data it takes. A
//! template that covers several kinds of order has further samples
//! `<key>.<variant>.sample.json`: each holds only the top-level keys that
//! differ from the main sample and replaces them (a shallow merge), so a
//! variant shows exactly what that kind adds.

use serde_json::Value;

use crate::Template;

/// A built-in template with its sample data.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    pub key: &'static str,
    pub source: &'static str,
    /// The main sample (JSON text).
    pub sample: &'static str,
    /// Variants: name and the top-level keys they replace (JSON text).
    pub variants: &'static [(&'static str, &'static str)],
}

macro_rules! builtin {
    ($key:literal $(, $variant:literal)*) => {
        Builtin {
            key: $key,
            source: include_str!(concat!("../templates/", $key, ".typ")),
            sample: include_str!(concat!("../templates/", $key, ".sample.json")),
            variants: &[$(($variant, include_str!(concat!("../templates/", $key, ".", $variant, ".sample.json")))),*],
        }
    };
}

/// Every built-in template, framework contracts first.
pub static ALL: &[Builtin] = &[
    // Cargo: договор транспортной экспедиции (we are the forwarder).
    builtin!("contract_cargo", "agency"),
    // Passengers: договор фрахтования — we organise, a licensed carrier carries.
    builtin!("contract_passengers"),
    // Machinery and materials: договор оказания услуг спецтехникой.
    builtin!("contract_machinery"),
    // The supplier's framework contract (we are the customer).
    builtin!("contract_supplier"),
    // The client's work order (заявка-наряд).
    builtin!(
        "work_order_client",
        "passengers",
        "materials",
        "machinery",
        "agency"
    ),
    // The supplier's work order (заказ-наряд).
    builtin!(
        "work_order_supplier",
        "passengers",
        "materials",
        "machinery"
    ),
    // The signature page of a document signed with the built-in simple
    // e-signature; a signed copy embeds the original's pages before it.
    builtin!("signature_page"),
    // Our invoice to the client (счёт на оплату) with the payment QR code.
    builtin!("invoice", "no_vat"),
];

/// The built-in template with this key.
pub fn get(key: &str) -> Option<&'static Builtin> {
    ALL.iter().find(|b| b.key == key)
}

impl Builtin {
    /// As a [`Template`], version 0.
    pub fn template(&self) -> Template {
        Template::new(self.key, 0, self.source)
    }

    /// The file name of the main sample: `work_order_client.sample.json`.
    pub fn sample_file(&self) -> String {
        format!("{}.sample.json", self.key)
    }

    /// The main sample data.
    pub fn sample_data(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(self.sample)
    }

    /// Every sample: the main one (named `sample`) and each variant merged
    /// onto it, with the file each came from.
    pub fn samples(&self) -> Vec<(String, Result<Value, serde_json::Error>)> {
        let mut out = vec![(self.sample_file(), self.sample_data())];
        for (name, text) in self.variants {
            let file = format!("{}.{name}.sample.json", self.key);
            let merged = self.sample_data().and_then(|base| {
                let patch: Value = serde_json::from_str(text)?;
                Ok(merge(base, patch))
            });
            out.push((file, merged));
        }
        out
    }
}

/// `base` with each top-level key of `patch` replaced.
pub fn merge(mut base: Value, patch: Value) -> Value {
    if let (Some(b), Value::Object(p)) = (base.as_object_mut(), patch) {
        for (k, v) in p {
            b.insert(k, v);
        }
    }
    base
}
