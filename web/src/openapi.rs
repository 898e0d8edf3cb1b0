//! The OpenAPI 3 document of the JSON API (`GET /api/openapi.json`), built
//! from the request types at run time, so a type an analyst adds in YAML
//! appears in it with its fields, units, limits and choices — no code
//! change. Written by hand with `serde_json`: the API is small, and the
//! document follows the types, not Rust structs.

use domain::fleet::catalogue::EquipmentCatalogue;
use domain::intake::request_types::{
    DurationKind, FieldDef, FieldKind, RequestType, RequestTypes, TIMEZONES,
};
use domain::rate_limit::Limit;
use serde_json::{Map, Value, json};

/// The largest body the public endpoint reads.
pub const PUBLIC_BODY_LIMIT: usize = 64 * 1024;

fn field_schema(f: &FieldDef, t: &RequestType, catalogue: &EquipmentCatalogue) -> Value {
    let mut description = f.title.clone();
    if let Some(u) = &f.unit {
        description.push_str(&format!(", {u}"));
    }
    if let Some(h) = &f.help {
        description.push_str(&format!(". {h}"));
    }
    let mut s = match f.kind {
        FieldKind::String => json!({"type": "string", "maxLength": 300}),
        FieldKind::Text => json!({"type": "string", "maxLength": 5000}),
        FieldKind::Integer => json!({"type": "integer"}),
        FieldKind::Decimal => json!({"type": "number"}),
        FieldKind::Boolean => json!({"type": "boolean"}),
        FieldKind::Choice => json!({"type": "string", "enum": f.options}),
        FieldKind::Date => json!({"type": "string", "format": "date"}),
        FieldKind::Address => json!({"$ref": "#/components/schemas/Address"}),
        FieldKind::Category => {
            let titles: Vec<String> = t
                .categories
                .iter()
                .map(|c| {
                    let title = catalogue
                        .category(c)
                        .map(|x| x.title.as_str())
                        .unwrap_or("");
                    format!("`{c}` — {title}")
                })
                .collect();
            description.push_str(&format!(" ({})", titles.join("; ")));
            json!({"type": "string", "enum": t.categories})
        }
    };
    if f.kind == FieldKind::Address {
        // A $ref cannot carry siblings in OpenAPI 3.0: wrap it.
        return json!({"description": description, "allOf": [s]});
    }
    if let Value::Object(m) = &mut s {
        m.insert("description".into(), Value::String(description));
        if let Some(min) = f.min {
            m.insert("minimum".into(), json!(min));
        }
        if let Some(max) = f.max {
            m.insert("maximum".into(), json!(max));
        }
        if let Some(d) = &f.default {
            m.insert("default".into(), d.clone());
        }
    }
    s
}

fn type_schemas(t: &RequestType, catalogue: &EquipmentCatalogue, schemas: &mut Map<String, Value>) {
    let mut props = Map::new();
    for f in &t.fields {
        props.insert(f.id.clone(), field_schema(f, t, catalogue));
    }
    let required: Vec<&str> = t
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.id.as_str())
        .collect();
    schemas.insert(
        format!("Fields_{}", t.code),
        json!({
            "type": "object",
            "title": t.title,
            "description": format!("The own fields of «{}».", t.title),
            "properties": props,
            "required": required,
            "additionalProperties": false,
        }),
    );
    let mut common = json!({
        "request_type": {"type": "string", "enum": [t.code], "description": t.title},
        "fields": {"$ref": format!("#/components/schemas/Fields_{}", t.code)},
    });
    if t.duration != DurationKind::None
        && let Value::Object(m) = &mut common
    {
        let unit = match t.duration {
            DurationKind::Hours => "hours",
            _ => "shifts",
        };
        m.insert(
            "duration".into(),
            json!({"type": "number", "exclusiveMinimum": 0, "description": format!("How long, in {unit}.")}),
        );
    }
    schemas.insert(
        format!("PublicRequest_{}", t.code),
        json!({
            "title": t.title,
            "allOf": [
                {"$ref": "#/components/schemas/PublicRequestCommon"},
                {"type": "object", "properties": common, "required": ["request_type", "fields"]},
            ],
        }),
    );
}

/// The document, for the server at `base_url`.
pub fn document(
    types: &RequestTypes,
    catalogue: &EquipmentCatalogue,
    base_url: &str,
    limit: Limit,
) -> Value {
    let mut schemas = Map::new();
    schemas.insert(
        "Address".into(),
        json!({
            "type": "object",
            "description": "An address with optional coordinates and the site's time zone (default Europe/Moscow).",
            "properties": {
                "address": {"type": "string", "description": "The address as people write it."},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                "timezone": {"type": "string", "enum": TIMEZONES, "default": "Europe/Moscow"},
            },
            "required": ["address"],
            "additionalProperties": false,
        }),
    );
    schemas.insert(
        "PublicRequestCommon".into(),
        json!({
            "type": "object",
            "description": "What every request has. Unknown keys are refused.",
            "properties": {
                "wanted_from": {"type": "string", "example": "2026-12-01T09:00",
                    "description": "When the work starts: local date and time at the site (its address's time zone), `YYYY-MM-DDTHH:MM` or `DD.MM.YYYY HH:MM`. Not in the past."},
                "wanted_to": {"type": "string", "description": "The end of a window, same format; after `wanted_from`."},
                "comment": {"type": "string", "maxLength": 5000},
                "contact_name": {"type": "string", "maxLength": 200, "description": "Who to call back."},
                "contact_phone": {"type": "string", "example": "+7 916 123-45-67", "description": "A Russian phone number."},
                "contact_email": {"type": "string", "format": "email", "description": "Where the confirmation goes (besides an SMS)."},
                "company_name": {"type": "string", "description": "The company ordering, if not a private person."},
                "inn": {"type": "string", "description": "The company's INN (10 digits; 12 for a sole proprietor), if known."},
                "website": {"type": "string", "maxLength": 0, "description": "Leave empty: a trap for bots (a filled value is refused)."},
                "captcha_token": {"type": "string", "description": "The captcha answer, when the server asks for one."},
            },
            "required": ["contact_name", "contact_phone", "wanted_from"],
        }),
    );
    let mut one_of = Vec::new();
    let mut mapping = Map::new();
    for t in &types.0 {
        type_schemas(t, catalogue, &mut schemas);
        let r = format!("#/components/schemas/PublicRequest_{}", t.code);
        one_of.push(json!({"$ref": r}));
        mapping.insert(t.code.clone(), Value::String(r));
    }
    schemas.insert(
        "PublicRequest".into(),
        json!({
            "oneOf": one_of,
            "discriminator": {"propertyName": "request_type", "mapping": mapping},
        }),
    );
    schemas.insert(
        "Created".into(),
        json!({
            "type": "object",
            "properties": {
                "number": {"type": "string", "example": "З-2026-00042", "description": "The request's reference number."},
                "status": {"type": "string", "example": "new"},
                "message": {"type": "string", "description": "A text to show the visitor (Russian)."},
            },
            "required": ["number", "status"],
        }),
    );
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": {
                "error": {"type": "string", "description": "A machine-readable reason: `invalid`, `json.invalid`, `body.too_large`, `content_type.unsupported`, `too_many_requests`, `request.malformed` (an address or query that cannot be read, e.g. a word where a number belongs)…"},
                "fields": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string", "description": "The key; a type's own field is `f.<id>`."},
                        "code": {"type": "string", "description": "What is wrong: `required`, `number.invalid`, `choice.invalid`, `json.type`, `field.unknown`, `spam.honeypot`…"},
                    },
                }},
                "detail": {"type": "string"},
                "retry_after_secs": {"type": "integer"},
            },
            "required": ["error"],
        }),
    );
    let error = |text: &str| json!({"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let window = limit.window.num_seconds();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Podryad API",
            "version": "1",
            "description": "Requests for special-equipment services from a website or an integration. The request types and their fields are defined by the broker's analysts; this document follows them.",
        },
        "servers": [{"url": base_url}],
        "paths": {
            "/api/public/requests": {
                "post": {
                    "summary": "Submit a request (the website form's JSON twin)",
                    "description": format!(
                        "No authentication. At most {} submissions per {} seconds from one address; the body is at most {} bytes. Nothing is stored unless the answer is 201. The visitor gets the number by e-mail and/or SMS.",
                        limit.limit, window, PUBLIC_BODY_LIMIT
                    ),
                    "operationId": "submitPublicRequest",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PublicRequest"}}}},
                    "responses": {
                        "201": {"description": "Stored; the reference number", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}}},
                        "400": error("Not JSON"),
                        "413": error("The body is larger than allowed"),
                        "415": error("Not application/json"),
                        "422": error("Field by field: what to fix"),
                        "429": error("Too many submissions from this address; see Retry-After"),
                    },
                },
            },
            "/api/public/request-types": {
                "get": {
                    "summary": "The request types and their fields",
                    "operationId": "listRequestTypes",
                    "responses": {"200": {"description": "The types, in menu order", "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}},
                },
            },
            "/api/addresses/suggest": {
                "get": {
                    "summary": "Address suggestions for what a person is typing (empty without a geocoder)",
                    "operationId": "suggestAddresses",
                    "parameters": [{"name": "q", "in": "query", "required": true, "schema": {"type": "string", "minLength": 3}}],
                    "responses": {
                        "200": {"description": "Best first, at most 7", "content": {"application/json": {"schema": {"type": "object", "properties": {
                            "suggestions": {"type": "array", "items": {"type": "object", "properties": {
                                "value": {"type": "string"},
                                "lat": {"type": "number", "nullable": true},
                                "lon": {"type": "number", "nullable": true},
                                "precision": {"type": "string", "enum": ["house", "street", "settlement", "city", "region"], "nullable": true},
                                "region": {"type": "string", "nullable": true}}}}}}}}},
                        "429": error("Too many lookups from this address (visitors only)"),
                    },
                },
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "operationId": "openapi",
                    "responses": {"200": {"description": "OpenAPI 3"}},
                },
            },
            "/api/v1/workflows/{key}/start": {
                "post": {
                    "summary": "Start a workflow for a business object",
                    "security": [{"bearer": []}],
                    "parameters": [{"name": "key", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                        "object_kind": {"type": "string"}, "object_id": {"type": "integer"}, "data": {"type": "object"}}, "required": ["object_id"]}}}},
                    "responses": {"201": {"description": "Started"}, "401": error("No or wrong token"), "404": error("No such workflow")},
                },
            },
            "/api/v1/instances/{id}": {
                "get": {
                    "summary": "A workflow instance",
                    "security": [{"bearer": []}],
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "responses": {"200": {"description": "The instance"}, "400": error("The id is not a number: `request.malformed`"), "401": error("No or wrong token"), "404": error("Not found")},
                },
            },
            "/api/v1/instances/{id}/events": {
                "post": {
                    "summary": "Deliver an event to a workflow instance",
                    "security": [{"bearer": []}],
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                        "name": {"type": "string"}, "payload": {}}, "required": ["name"]}}}},
                    "responses": {"200": {"description": "The step"}, "401": error("No or wrong token")},
                },
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "A token from `podryad token create`."}},
        },
    })
}
