//! Amounts in Russian words, as contracts, invoices and acts spell totals:
//! "Двадцать шесть тысяч рублей 00 копеек".
//!
//! The roubles are spelled out, the kopecks stay two digits, and each noun
//! takes the form its number asks for: one (1, 21, 101 — but not 11) takes
//! the nominative singular (рубль, тысяча, миллион), two to four (2–4,
//! 22–24 — but not 12–14) the genitive singular (рубля, тысячи, миллиона),
//! everything else the genitive plural (рублей, тысяч, миллионов). Тысяча
//! and копейка are feminine ("одна тысяча", "две копейки"), рубль and
//! миллион masculine ("один рубль", "два миллиона"). A group of zeros is
//! left out ("один миллион один рубль"), and the first letter is a capital.
//! These words are the language of the documents themselves, not interface
//! text, so they live here with the rule that picks them.

use super::Kopecks;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Masculine,
    Feminine,
}

/// The three forms of a noun after a number: (1, 2–4, 5–20 and 0).
#[derive(Debug, Clone, Copy)]
pub struct Forms {
    pub one: &'static str,
    pub few: &'static str,
    pub many: &'static str,
}

pub const RUBLE: Forms = Forms {
    one: "рубль",
    few: "рубля",
    many: "рублей",
};
pub const KOPECK: Forms = Forms {
    one: "копейка",
    few: "копейки",
    many: "копеек",
};

/// Scales of a thousand: the noun and its gender, from 10³ up.
const SCALES: [(Forms, Gender); 6] = [
    (
        Forms {
            one: "тысяча",
            few: "тысячи",
            many: "тысяч",
        },
        Gender::Feminine,
    ),
    (
        Forms {
            one: "миллион",
            few: "миллиона",
            many: "миллионов",
        },
        Gender::Masculine,
    ),
    (
        Forms {
            one: "миллиард",
            few: "миллиарда",
            many: "миллиардов",
        },
        Gender::Masculine,
    ),
    (
        Forms {
            one: "триллион",
            few: "триллиона",
            many: "триллионов",
        },
        Gender::Masculine,
    ),
    (
        Forms {
            one: "квадриллион",
            few: "квадриллиона",
            many: "квадриллионов",
        },
        Gender::Masculine,
    ),
    (
        Forms {
            one: "квинтиллион",
            few: "квинтиллиона",
            many: "квинтиллионов",
        },
        Gender::Masculine,
    ),
];

const UNITS: [&str; 20] = [
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
];
const TENS: [&str; 10] = [
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
];
const HUNDREDS: [&str; 10] = [
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
];

impl Forms {
    /// The form that goes with `n`: 1, 21, 101 → one; 2–4, 22–24 → few;
    /// 0, 5–20, 25–30, 111–114 → many.
    pub fn for_number(&self, n: u64) -> &'static str {
        let last_two = n % 100;
        if (11..=14).contains(&last_two) {
            return self.many;
        }
        match n % 10 {
            1 => self.one,
            2..=4 => self.few,
            _ => self.many,
        }
    }
}

/// Words for 1..=999 in the given gender, pushed onto `out`.
fn triple(n: u64, gender: Gender, out: &mut Vec<&'static str>) {
    let h = (n / 100) as usize;
    let rest = (n % 100) as usize;
    if h > 0 {
        out.push(HUNDREDS[h]);
    }
    let unit = if rest < 20 {
        rest
    } else {
        out.push(TENS[rest / 10]);
        rest % 10
    };
    match (unit, gender) {
        (0, _) => {}
        (1, Gender::Feminine) => out.push("одна"),
        (2, Gender::Feminine) => out.push("две"),
        (u, _) => out.push(UNITS[u]),
    }
}

/// A whole number in words, lower case, in the gender of the noun that
/// follows it: `number_in_words(2, Feminine)` is "две"; 0 is "ноль".
pub fn number_in_words(n: u64, gender: Gender) -> String {
    if n == 0 {
        return "ноль".to_string();
    }
    let mut groups = Vec::new();
    let mut rest = n;
    while rest > 0 {
        groups.push(rest % 1000);
        rest /= 1000;
    }
    let mut words: Vec<&'static str> = Vec::new();
    for (i, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        if i == 0 {
            triple(group, gender, &mut words);
        } else {
            let (forms, scale_gender) = SCALES[i - 1];
            triple(group, scale_gender, &mut words);
            words.push(forms.for_number(group));
        }
    }
    words.join(" ")
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An amount in words: "Двадцать шесть тысяч рублей 00 копеек",
/// "Одна тысяча один рубль 21 копейка", "Ноль рублей 00 копеек". A negative
/// amount (a correction) starts with "Минус".
pub fn amount_in_words(amount: Kopecks) -> String {
    let abs = amount.0.unsigned_abs();
    let rubles = abs / 100;
    let kopecks = abs % 100;
    let mut s = format!(
        "{} {} {:02} {}",
        number_in_words(rubles, Gender::Masculine),
        RUBLE.for_number(rubles),
        kopecks,
        KOPECK.for_number(kopecks)
    );
    if amount.0 < 0 {
        s = format!("минус {s}");
    }
    capitalise(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(rubles: i64, kopecks: i64) -> String {
        amount_in_words(Kopecks(rubles * 100 + kopecks))
    }

    #[test]
    fn the_examples_from_the_brief() {
        assert_eq!(words(26_000, 0), "Двадцать шесть тысяч рублей 00 копеек");
        assert_eq!(words(1_001, 21), "Одна тысяча один рубль 21 копейка");
        assert_eq!(words(2_000_000, 0), "Два миллиона рублей 00 копеек");
        assert_eq!(words(0, 0), "Ноль рублей 00 копеек");
        assert_eq!(
            words(1_000_000_001, 1),
            "Один миллиард один рубль 01 копейка"
        );
    }

    #[test]
    fn forms_follow_the_last_two_digits() {
        let cases = [
            (1, "Один рубль"),
            (2, "Два рубля"),
            (4, "Четыре рубля"),
            (5, "Пять рублей"),
            (10, "Десять рублей"),
            (11, "Одиннадцать рублей"),
            (12, "Двенадцать рублей"),
            (14, "Четырнадцать рублей"),
            (15, "Пятнадцать рублей"),
            (19, "Девятнадцать рублей"),
            (20, "Двадцать рублей"),
            (21, "Двадцать один рубль"),
            (22, "Двадцать два рубля"),
            (100, "Сто рублей"),
            (101, "Сто один рубль"),
            (111, "Сто одиннадцать рублей"),
            (112, "Сто двенадцать рублей"),
            (121, "Сто двадцать один рубль"),
            (999, "Девятьсот девяносто девять рублей"),
            (1_000, "Одна тысяча рублей"),
            (2_000, "Две тысячи рублей"),
            (5_000, "Пять тысяч рублей"),
            (11_000, "Одиннадцать тысяч рублей"),
            (12_000, "Двенадцать тысяч рублей"),
            (21_000, "Двадцать одна тысяча рублей"),
            (22_000, "Двадцать две тысячи рублей"),
            (111_000, "Сто одиннадцать тысяч рублей"),
            (1_000_000, "Один миллион рублей"),
            (3_000_000, "Три миллиона рублей"),
            (11_000_000, "Одиннадцать миллионов рублей"),
            (21_000_000, "Двадцать один миллион рублей"),
            (1_000_001, "Один миллион один рубль"),
            (1_001_000, "Один миллион одна тысяча рублей"),
            (2_002_002, "Два миллиона две тысячи два рубля"),
            (219_600, "Двести девятнадцать тысяч шестьсот рублей"),
            (
                999_999_999,
                "Девятьсот девяносто девять миллионов девятьсот девяносто девять тысяч девятьсот девяносто девять рублей",
            ),
            (
                12_345_678,
                "Двенадцать миллионов триста сорок пять тысяч шестьсот семьдесят восемь рублей",
            ),
        ];
        for (rubles, start) in cases {
            let w = words(rubles, 0);
            assert_eq!(w, format!("{start} 00 копеек"), "{rubles}");
        }
    }

    #[test]
    fn kopecks_agree_with_their_number() {
        assert_eq!(words(5, 1), "Пять рублей 01 копейка");
        assert_eq!(words(5, 2), "Пять рублей 02 копейки");
        assert_eq!(words(5, 5), "Пять рублей 05 копеек");
        assert_eq!(words(5, 11), "Пять рублей 11 копеек");
        assert_eq!(words(5, 14), "Пять рублей 14 копеек");
        assert_eq!(words(5, 21), "Пять рублей 21 копейка");
        assert_eq!(words(5, 22), "Пять рублей 22 копейки");
        assert_eq!(words(5, 99), "Пять рублей 99 копеек");
        assert_eq!(words(0, 50), "Ноль рублей 50 копеек");
    }

    #[test]
    fn extremes_and_negatives() {
        assert_eq!(amount_in_words(Kopecks(-150)), "Минус один рубль 50 копеек");
        // Neither end of i64 panics.
        assert!(amount_in_words(Kopecks(i64::MAX)).starts_with("Девяносто два квадриллиона"));
        assert!(amount_in_words(Kopecks(i64::MIN)).starts_with("Минус девяносто два квадриллиона"));
        assert_eq!(number_in_words(2, Gender::Feminine), "две");
        assert_eq!(number_in_words(0, Gender::Masculine), "ноль");
        assert_eq!(
            number_in_words(u64::MAX, Gender::Masculine)
                .split(' ')
                .next(),
            Some("восемнадцать")
        );
    }
}
