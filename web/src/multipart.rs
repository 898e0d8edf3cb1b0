//! Reading multipart forms (forms with a file) into text fields and at most
//! one file per field, with a size limit, so handlers stay simple.

use std::collections::BTreeMap;

use axum::extract::Multipart;

use crate::error::AppError;

/// An uploaded file.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Text fields and files of a submitted form. Empty file inputs are left out.
#[derive(Debug, Default)]
pub struct MultipartForm {
    pub fields: BTreeMap<String, String>,
    pub files: BTreeMap<String, Upload>,
}

impl MultipartForm {
    pub async fn read(mut mp: Multipart, max_total: usize) -> Result<MultipartForm, AppError> {
        let mut out = MultipartForm::default();
        let mut total = 0usize;
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|_| AppError::BadRequest("form"))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let file_name = field.file_name().map(str::to_string);
            let bytes = field
                .bytes()
                .await
                .map_err(|_| AppError::BadRequest("upload.too_large"))?;
            total += bytes.len();
            if total > max_total {
                return Err(AppError::BadRequest("upload.too_large"));
            }
            if crate::forms::has_control_chars(&name)
                || file_name
                    .as_deref()
                    .is_some_and(crate::forms::has_control_chars)
                || (file_name.is_none()
                    && crate::forms::has_control_chars(&String::from_utf8_lossy(&bytes)))
            {
                let mut errors = domain::error::FieldErrors::new();
                errors.add(&name, crate::forms::CONTROL_CHARS);
                return Err(AppError::InvalidText(errors));
            }
            match file_name {
                Some(f) if !bytes.is_empty() => {
                    out.files.insert(
                        name,
                        Upload {
                            name: f,
                            bytes: bytes.to_vec(),
                        },
                    );
                }
                Some(_) => {}
                None => {
                    out.fields
                        .insert(name, String::from_utf8_lossy(&bytes).into_owned());
                }
            }
        }
        Ok(out)
    }

    pub fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }
}
