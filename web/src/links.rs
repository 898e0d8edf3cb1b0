//! Where the business object of a workflow is shown, for links from tasks
//! and instances.

/// The page of the object `kind`/`id`; unknown kinds have no page.
pub fn object_href(kind: &str, id: i64) -> Option<String> {
    match kind {
        "supplier" | "client" => Some(format!("/parties/{id}")),
        "request" => Some(format!("/requests/{id}")),
        "machine_document" => Some(format!("/garage/documents/{id}")),
        "order" => Some(format!("/orders/{id}")),
        "contract" => Some(format!("/contracts/{id}")),
        _ => None,
    }
}
