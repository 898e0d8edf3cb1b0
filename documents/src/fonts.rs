//! The fonts documents are set in, embedded in the binary.
//!
//! PT Serif (ParaType, free licence in `fonts/LICENSE-ParaType.txt`, taken
//! from Debian's `fonts-paratype`): a serif family made for Russian
//! documents, with Cyrillic and the rouble sign ₽ (U+20BD), which Typst's
//! own default fonts lack. Regular, bold, italic and bold italic are ~1.3 MB
//! together.
//!
//! The fonts are parsed once, on first use, into one shared [`FontBook`]:
//! every later render only clones `Font` handles (reference-counted), which
//! keeps warm renders fast.

use std::sync::LazyLock;

use typst::foundations::Bytes;
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;

/// The family name templates use: `set text(font: "PT Serif")`.
pub const FAMILY: &str = "PT Serif";

static FILES: [&[u8]; 4] = [
    include_bytes!("../fonts/PTSerif-Regular.ttf"),
    include_bytes!("../fonts/PTSerif-Bold.ttf"),
    include_bytes!("../fonts/PTSerif-Italic.ttf"),
    include_bytes!("../fonts/PTSerif-BoldItalic.ttf"),
];

pub(crate) struct Fonts {
    pub book: LazyHash<FontBook>,
    pub fonts: Vec<Font>,
}

pub(crate) static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let fonts: Vec<Font> = FILES
        .iter()
        .flat_map(|data| Font::iter(Bytes::new(*data)))
        .collect();
    Fonts {
        book: LazyHash::new(FontBook::from_fonts(fonts.iter())),
        fonts,
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_face_has_cyrillic_and_the_rouble_sign() {
        assert_eq!(FONTS.fonts.len(), 4, "four faces are embedded");
        for font in &FONTS.fonts {
            assert_eq!(font.info().family, FAMILY);
            for c in ['₽', 'Ж', 'ё', '№', '«', '»', '—'] {
                assert!(
                    font.info().coverage.contains(c as u32),
                    "{} {:?} lacks {c}",
                    font.info().family,
                    font.info().variant
                );
            }
        }
    }
}
