//! The `typst::World` a document is compiled in: one main source (the
//! template), the data as a virtual `data.json`, the shared `common.typ`
//! module, and the embedded fonts — and nothing else. A template cannot read
//! the file system or the network: every other path is "not found".

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

use crate::fonts::FONTS;

/// The virtual file a template reads its data from: `json("data.json")`.
pub const DATA_FILE: &str = "data.json";
/// The shared module templates may import: `#import "common.typ": *`.
pub const COMMON_FILE: &str = "common.typ";

const COMMON_SOURCE: &str = include_str!("../templates/common.typ");

/// The standard library is the same for every document (data comes as a
/// file, not as `sys.inputs`), so it is built once.
static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

pub(crate) fn file_id(path: &str) -> FileId {
    // Paths here are fixed names or validated template keys, which are always
    // valid virtual paths; the root is the fallback only for the type system.
    let vpath = VirtualPath::new(path).unwrap_or_else(|_| VirtualPath::new("/").expect("root"));
    FileId::new(RootedPath::new(VirtualRoot::Project, vpath))
}

static DATA_ID: LazyLock<FileId> = LazyLock::new(|| file_id(DATA_FILE));
static COMMON_ID: LazyLock<FileId> = LazyLock::new(|| file_id(COMMON_FILE));
static COMMON: LazyLock<Source> =
    LazyLock::new(|| Source::new(*COMMON_ID, COMMON_SOURCE.to_string()));

/// Parsed template sources by file id. A template's text rarely changes, and
/// reusing the parsed `Source` (and so the memoised results keyed by it)
/// is what makes a warm render cheap. A changed text is reparsed
/// incrementally. Bounded by the number of template keys.
static SOURCES: LazyLock<Mutex<HashMap<FileId, Source>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn source_for(id: FileId, text: &str) -> Source {
    let mut cache = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    match cache.get_mut(&id) {
        Some(source) if source.text() == text => source.clone(),
        Some(source) => {
            source.replace(text);
            source.clone()
        }
        None => {
            let source = Source::new(id, text.to_string());
            cache.insert(id, source.clone());
            source
        }
    }
}

pub(crate) struct DocWorld {
    main: Source,
    data: Bytes,
    /// Binary files the caller hands in (an original PDF a signed copy
    /// embeds); read by their path, nothing else becomes reachable.
    attachments: Vec<(FileId, Bytes)>,
}

impl DocWorld {
    pub fn new(main_path: &str, text: &str, data: Vec<u8>) -> DocWorld {
        let id = file_id(main_path);
        DocWorld {
            main: source_for(id, text),
            data: Bytes::new(data),
            attachments: Vec::new(),
        }
    }

    /// Adds a binary file the template may read at `path` (`/original.pdf`).
    pub fn attach(&mut self, path: &str, bytes: Vec<u8>) {
        self.attachments.push((file_id(path), Bytes::new(bytes)));
    }

    pub fn main_source(&self) -> &Source {
        &self.main
    }

    pub fn data_id() -> FileId {
        *DATA_ID
    }

    pub fn common() -> &'static Source {
        &COMMON
    }
}

impl World for DocWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else if id == *COMMON_ID {
            Ok(COMMON.clone())
        } else if id == *DATA_ID {
            Err(FileError::NotSource)
        } else {
            Err(FileError::NotFound(std::path::PathBuf::from(
                id.vpath().get_without_slash(),
            )))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == *DATA_ID {
            Ok(self.data.clone())
        } else if id == self.main.id() {
            Ok(Bytes::from_string(self.main.clone()))
        } else if id == *COMMON_ID {
            Ok(Bytes::from_string(COMMON.clone()))
        } else if let Some((_, b)) = self.attachments.iter().find(|(a, _)| *a == id) {
            Ok(b.clone())
        } else {
            Err(FileError::NotFound(std::path::PathBuf::from(
                id.vpath().get_without_slash(),
            )))
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.fonts.get(index).cloned()
    }

    fn today(&self, offset: Option<typst::foundations::Duration>) -> Option<Datetime> {
        use chrono::Datelike;
        // Documents should take their date from the data (it is stored with
        // them); this serves `datetime.today()` for drafts and previews.
        let now = chrono::Utc::now();
        let date = match offset {
            Some(offset) => (now + chrono::Duration::seconds(offset.seconds() as i64)).date_naive(),
            None => now.with_timezone(&chrono_tz::Europe::Moscow).date_naive(),
        };
        Datetime::from_ymd(date.year(), date.month() as u8, date.day() as u8)
    }
}
