//! Vehicle identifiers: Russian state registration plates and VINs.

use serde::{Deserialize, Serialize};

use super::{ValueError, is_blank, string_value};

/// The layout of a Russian plate (ГОСТ Р 50577), which tells what kind of
/// vehicle carries it. `L` is a letter, `D` a digit, `RR(R)` the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateKind {
    /// `LDDDLL RR(R)`: cars and trucks (А123ВС 77).
    Standard,
    /// `LLDDDD RR(R)`: trailers and semi-trailers (АВ1234 77).
    Trailer,
    /// `LLDDD RR(R)`: route buses and taxis (АВ123 77).
    PublicTransport,
    /// `DDDDLL RR(R)`: self-propelled machinery registered with
    /// Gostekhnadzor (tractors, excavators, loaders) and motorcycles
    /// (1234АВ 77).
    Machinery,
}

impl PlateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlateKind::Standard => "standard",
            PlateKind::Trailer => "trailer",
            PlateKind::PublicTransport => "public_transport",
            PlateKind::Machinery => "machinery",
        }
    }

    /// The layout of the part before the region.
    fn layout(self) -> &'static str {
        match self {
            PlateKind::Standard => "LDDDLL",
            PlateKind::Trailer => "LLDDDD",
            PlateKind::PublicTransport => "LLDDD",
            PlateKind::Machinery => "DDDDLL",
        }
    }
}

/// The twelve Cyrillic letters used on plates: those that look like Latin
/// letters, so that a plate reads the same to cameras everywhere.
const PLATE_LETTERS: &str = "АВЕКМНОРСТУХ";

/// Maps a typed character to a plate letter: Cyrillic in either case, or its
/// Latin look-alike (people often type plates on a Latin keyboard).
fn plate_letter(c: char) -> Option<char> {
    let upper = c.to_uppercase().next().unwrap_or(c);
    let mapped = match upper {
        'A' => 'А',
        'B' => 'В',
        'E' => 'Е',
        'K' => 'К',
        'M' => 'М',
        'H' => 'Н',
        'O' => 'О',
        'P' => 'Р',
        'C' => 'С',
        'T' => 'Т',
        'Y' => 'У',
        'X' => 'Х',
        other => other,
    };
    PLATE_LETTERS.contains(mapped).then_some(mapped)
}

/// A Russian state registration plate, stored as `<series> <region>` in
/// capital Cyrillic letters: `А123ВС 77`, `АВ1234 777`.
///
/// Accepts Latin look-alike letters (`A123BC77`) and lowercase, with or
/// without blanks and dashes. Only the twelve letters А В Е К М Н О Р С Т У Х
/// exist on plates; any other letter is [`ValueError::Format`]. The space
/// before the region is kept because without it `АВ123477` could be a
/// trailer (АВ1234 77) or a bus (АВ123 477); when such a plate is typed
/// without the space, the trailer reading is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatePlate {
    text: String,
    kind: PlateKind,
}

impl StatePlate {
    pub fn parse(input: &str) -> Result<StatePlate, ValueError> {
        let trimmed = input.trim_matches(is_blank);
        if trimmed.is_empty() {
            return Err(ValueError::Empty);
        }
        // Where a typed blank separates the region, respect it.
        let typed_region = trimmed
            .rsplit_once(|c: char| is_blank(c) || c == '-' || c == '|')
            .map(|(_, r)| r)
            .filter(|r| (2..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_digit()));
        let mut chars = Vec::with_capacity(9);
        for c in trimmed.chars() {
            if is_blank(c) || c == '-' || c == '|' {
                continue;
            }
            if c.is_ascii_digit() {
                chars.push(c);
            } else if let Some(letter) = plate_letter(c) {
                chars.push(letter);
            } else {
                return Err(ValueError::Format);
            }
        }
        let layout: String = chars
            .iter()
            .map(|c| if c.is_ascii_digit() { 'D' } else { 'L' })
            .collect();
        let kinds = [
            PlateKind::Standard,
            PlateKind::Trailer,
            PlateKind::PublicTransport,
            PlateKind::Machinery,
        ];
        let fits = |kind: PlateKind| {
            let main = kind.layout();
            let region_len = layout.len().checked_sub(main.len())?;
            let ok = layout.starts_with(main)
                && (2..=3).contains(&region_len)
                && typed_region.is_none_or(|r| r.len() == region_len)
                && layout[main.len()..].bytes().all(|b| b == b'D');
            ok.then_some((kind, main.chars().count()))
        };
        // Trailer before public transport: the order resolves `LLDDDDDD`.
        let (kind, main_len) = kinds.into_iter().find_map(fits).ok_or(ValueError::Format)?;
        let main: String = chars[..main_len].iter().collect();
        let region: String = chars[main_len..].iter().collect();
        let number: String = main.chars().filter(char::is_ascii_digit).collect();
        if number.bytes().all(|b| b == b'0') {
            return Err(ValueError::Format);
        }
        if region == "00" || (region.len() == 3 && region.starts_with('0')) {
            return Err(ValueError::Format);
        }
        Ok(StatePlate {
            text: format!("{main} {region}"),
            kind,
        })
    }

    /// `А123ВС 77`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn kind(&self) -> PlateKind {
        self.kind
    }

    /// The region code (`77`, `777`).
    pub fn region(&self) -> &str {
        self.text
            .rsplit_once(' ')
            .map(|(_, r)| r)
            .unwrap_or_default()
    }
}
string_value!(StatePlate);

/// A vehicle identification number: 17 characters of digits and capital
/// Latin letters except I, O and Q (which read like 1 and 0).
///
/// The check digit (position 9) is mandatory only in North America; Russian
/// and European VINs often do not satisfy it, so it is not enforced.
/// Cyrillic look-alike letters typed on a Russian keyboard are mapped to
/// Latin, and the result is uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vin(String);

impl Vin {
    pub fn parse(input: &str) -> Result<Vin, ValueError> {
        let trimmed = input.trim_matches(is_blank);
        if trimmed.is_empty() {
            return Err(ValueError::Empty);
        }
        let mut s = String::with_capacity(17);
        for c in trimmed.chars() {
            let upper = c.to_uppercase().next().unwrap_or(c);
            let latin = match upper {
                'А' => 'A',
                'В' => 'B',
                'Е' => 'E',
                'К' => 'K',
                'М' => 'M',
                'Н' => 'H',
                'О' => 'O',
                'Р' => 'P',
                'С' => 'C',
                'Т' => 'T',
                'У' => 'Y',
                'Х' => 'X',
                other => other,
            };
            if !latin.is_ascii_alphanumeric() || matches!(latin, 'I' | 'O' | 'Q') {
                return Err(ValueError::Format);
            }
            s.push(latin);
        }
        if s.len() != 17 {
            return Err(ValueError::Length { expected: &[17] });
        }
        Ok(Vin(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_value!(Vin);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_plates() {
        for input in [
            "А123ВС77",
            "а123вс77",
            "A123BC77",
            "a123bc 77",
            "А 123 ВС 77",
            "А123ВС-77",
            "А123ВС|77",
        ] {
            let p = StatePlate::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.as_str(), "А123ВС 77", "{input}");
            assert_eq!(p.kind(), PlateKind::Standard);
            assert_eq!(p.region(), "77");
        }
        let p = StatePlate::parse("Х999ХХ777").unwrap();
        assert_eq!(p.as_str(), "Х999ХХ 777");
        assert_eq!(p.region(), "777");
        assert_eq!(p.to_string(), "Х999ХХ 777");
    }

    #[test]
    fn other_plate_kinds() {
        let trailer = StatePlate::parse("АВ1234 77").unwrap();
        assert_eq!(
            (trailer.as_str(), trailer.kind()),
            ("АВ1234 77", PlateKind::Trailer)
        );
        let trailer = StatePlate::parse("ab1234 177").unwrap();
        assert_eq!(
            (trailer.as_str(), trailer.kind()),
            ("АВ1234 177", PlateKind::Trailer)
        );
        let bus = StatePlate::parse("ВС123 50").unwrap();
        assert_eq!(
            (bus.as_str(), bus.kind()),
            ("ВС123 50", PlateKind::PublicTransport)
        );
        let bus = StatePlate::parse("ВС123 750").unwrap();
        assert_eq!(
            (bus.as_str(), bus.kind()),
            ("ВС123 750", PlateKind::PublicTransport)
        );
        // Typed without the space the 8-character form reads as a trailer.
        assert_eq!(
            StatePlate::parse("ВС123750").unwrap().kind(),
            PlateKind::Trailer
        );
        let tractor = StatePlate::parse("1234 ЕК 50").unwrap();
        assert_eq!(
            (tractor.as_str(), tractor.kind()),
            ("1234ЕК 50", PlateKind::Machinery)
        );
    }

    #[test]
    fn bad_plates() {
        assert_eq!(StatePlate::parse(""), Err(ValueError::Empty));
        // Б and Д are not plate letters; neither are Latin letters without a look-alike.
        assert_eq!(StatePlate::parse("Б123ВС77"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("А123ДС77"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("D123BC77"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("А12ВС77"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("А123ВС7"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("А123ВС7777"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("А000ВС77"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("А123ВС00"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("А123ВС077"), Err(ValueError::Format));
        assert_eq!(StatePlate::parse("123АВС77"), Err(ValueError::Format));
    }

    #[test]
    fn vin() {
        let v = Vin::parse(" xta21099043576182 ").unwrap();
        assert_eq!(v.as_str(), "XTA21099043576182");
        // Cyrillic look-alikes typed on a Russian keyboard.
        assert_eq!(Vin::parse("ХТА21099043576182").unwrap(), v);
        // A check digit that does not compute is accepted.
        assert!(Vin::parse("WDB9634031L123456").is_ok());
        assert_eq!(
            Vin::parse("XTA2109904357618"),
            Err(ValueError::Length { expected: &[17] })
        );
        assert_eq!(
            Vin::parse("XTA210990435761820"),
            Err(ValueError::Length { expected: &[17] })
        );
        assert_eq!(Vin::parse("XTA2109904357618I"), Err(ValueError::Format));
        assert_eq!(Vin::parse("XTA2109904357618O"), Err(ValueError::Format));
        assert_eq!(Vin::parse("XTA2109904357618Q"), Err(ValueError::Format));
        assert_eq!(Vin::parse("XTA21099-43576182"), Err(ValueError::Format));
        assert_eq!(Vin::parse("XTA2109904357618Ж"), Err(ValueError::Format));
        assert_eq!(Vin::parse(""), Err(ValueError::Empty));
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"XTA21099043576182\"");
    }

    proptest! {
        #[test]
        fn standard_plates_round_trip(
            l1 in prop::sample::select(PLATE_LETTERS.chars().collect::<Vec<_>>()),
            l2 in prop::sample::select(PLATE_LETTERS.chars().collect::<Vec<_>>()),
            l3 in prop::sample::select(PLATE_LETTERS.chars().collect::<Vec<_>>()),
            number in 1u32..1000,
            region in prop_oneof![10u32..100, 100u32..1000],
        ) {
            let typed = format!("{l1}{number:03}{l2}{l3}{region}");
            let plate = StatePlate::parse(&typed).unwrap();
            prop_assert_eq!(plate.kind(), PlateKind::Standard);
            prop_assert_eq!(plate.region(), region.to_string());
            prop_assert_eq!(StatePlate::parse(plate.as_str()).unwrap(), plate);
        }

        #[test]
        fn vehicle_parsers_never_panic(s in "\\PC{0,30}") {
            let _ = StatePlate::parse(&s);
            let _ = Vin::parse(&s);
        }
    }
}
