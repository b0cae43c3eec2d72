//! Invoice series per financial year (CGST Rule 46(b)): what a series is called, which
//! year a number belongs to, and what a device may number on its own.
//!
//! Rule 46(b) asks for "a consecutive serial number not exceeding sixteen characters, in
//! one or multiple series, … unique for a financial year". A financial year runs from
//! 1 April to 31 March (India time). Vaidya keeps one series per financial year and issuer:
//!
//! - the clinic's **main series**, numbered by the server: `2526-INV`;
//! - one **device series** per PC and clinic, numbered by the PC offline: `2526-D3`, where
//!   `D3` is a code the server allocated to that PC's file of the clinic (`DeviceCode`), so
//!   no two PCs ever write into one series.
//!
//! A number prints as `<series>/<six digits>` (`2526-D3/000042`): a series is at most nine
//! characters, so a printed number is at most sixteen. Each series starts again at 1 in
//! April. Series from before this scheme (`INV`, `D3AF2C1`: no year) stay valid for the
//! invoices that carry them.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::rules::clock::india_date;

/// The code of the clinic's main invoice series (the server numbers it).
pub const MAIN_CODE: &str = "INV";

/// The most device codes one clinic allocates (`D1` … `D999`), which keeps a series within
/// nine characters.
pub const MAX_DEVICE_CODES: i64 = 999;

/// The most characters of a series name: `2526-D999`.
pub const MAX_SERIES_LEN: usize = 9;

/// The documents numbered in series of a year: invoices (Rule 46(b)) and credit notes
/// (Rule 53(1A)(b)), each in series of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Invoice,
    CreditNote,
}

impl Document {
    /// The code of the clinic's main series of this document (`2526-INV`, `2526-CN`).
    pub fn main_code(self) -> &'static str {
        match self {
            Document::Invoice => MAIN_CODE,
            Document::CreditNote => "CN",
        }
    }

    /// The letter of a PC's series of this document: `2526-D3` for invoices and `2526-C3`
    /// for credit notes of the PC whose code is `D3`.
    fn device_letter(self) -> char {
        match self {
            Document::Invoice => 'D',
            Document::CreditNote => 'C',
        }
    }
}

/// The financial year (1 April – 31 March) a day in India belongs to, by its first year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FinancialYear(pub i32);

impl FinancialYear {
    pub fn of_day(day: NaiveDate) -> FinancialYear {
        FinancialYear(if day.month() >= 4 {
            day.year()
        } else {
            day.year() - 1
        })
    }

    /// The financial year of an instant, on India's calendar: an invoice issued at 23:30 on
    /// 31 March in India belongs to the year that is ending, whatever the PC's time zone.
    pub fn of(at: DateTime<Utc>) -> FinancialYear {
        FinancialYear::of_day(india_date(at))
    }

    /// `2526` for 2025–26: the prefix of the year's series.
    pub fn label(self) -> String {
        format!(
            "{:02}{:02}",
            self.0.rem_euclid(100),
            (self.0 + 1).rem_euclid(100)
        )
    }

    /// The year a label names, when it names two consecutive years (`2526`, never `2527`).
    pub fn parse_label(label: &str) -> Option<FinancialYear> {
        if label.len() != 4 || !label.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (first, second): (i32, i32) = (label[..2].parse().ok()?, label[2..].parse().ok()?);
        if (first + 1) % 100 != second {
            return None;
        }
        // Years 2000–2099: invoices are not issued before GST (2017).
        Some(FinancialYear(2000 + first))
    }

    /// The last day a credit note may be issued for a supply of this year (CGST Act
    /// s. 34(2), as amended from 1 October 2022): 30 November after the year ends.
    pub fn last_credit_note_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.0 + 1, 11, 30).expect("30 November exists")
    }
}

/// A device's code within one clinic, allocated by the server (`D1` … `D999`).
pub fn device_code(n: i64) -> Option<String> {
    (1..=MAX_DEVICE_CODES).contains(&n).then(|| format!("D{n}"))
}

/// The number in a code with `letter` (`D7` → 7; never `D07` or `D0`).
fn code_number(code: &str, letter: char) -> Option<i64> {
    let n: i64 = code.strip_prefix(letter)?.parse().ok()?;
    (device_code(n)?[1..] == code[1..]).then_some(n)
}

/// Whether `code` is a device code as the server allocates them (`D7`, never `D07`).
pub fn is_device_code(code: &str) -> bool {
    code_number(code, 'D').is_some()
}

/// The clinic's main series of `document` for the year of `at`.
pub fn main_series(document: Document, at: DateTime<Utc>) -> String {
    format!("{}-{}", FinancialYear::of(at).label(), document.main_code())
}

/// The series of `document` of the device with `code` (`D3`) for the year of `at`.
pub fn device_series(document: Document, code: &str, at: DateTime<Utc>) -> String {
    let number = code.get(1..).unwrap_or_default();
    format!(
        "{}-{}{number}",
        FinancialYear::of(at).label(),
        document.device_letter()
    )
}

/// What a series name says about who numbers it and for which year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Series<'a> {
    /// `2526-INV`, `2526-CN`: numbered by the server.
    Main(Document, FinancialYear),
    /// `2526-D3`, `2526-C3`: numbered by the PC whose code is `device_code(n)`.
    Device(Document, FinancialYear, i64),
    /// Anything else: a series from before numbering per year (`INV`, `D3AF2C1`), kept for
    /// the invoices that carry it.
    Legacy(&'a str),
}

impl<'a> Series<'a> {
    pub fn parse(series: &'a str) -> Series<'a> {
        let Some((year, code)) = series.split_once('-') else {
            return Series::Legacy(series);
        };
        let Some(year) = FinancialYear::parse_label(year) else {
            return Series::Legacy(series);
        };
        for document in [Document::Invoice, Document::CreditNote] {
            if code == document.main_code() {
                return Series::Main(document, year);
            }
            if let Some(n) = code_number(code, document.device_letter()) {
                return Series::Device(document, year, n);
            }
        }
        Series::Legacy(series)
    }

    /// The year this series numbers, if it is one of a year.
    pub fn year(&self) -> Option<FinancialYear> {
        match self {
            Series::Main(_, year) | Series::Device(_, year, _) => Some(*year),
            Series::Legacy(_) => None,
        }
    }

    /// The document this series numbers; a series without a year numbers invoices.
    pub fn document(&self) -> Document {
        match self {
            Series::Main(document, _) | Series::Device(document, _, _) => *document,
            Series::Legacy(_) => Document::Invoice,
        }
    }
}

/// Whether the server numbers this series (a device never brings its own number for it).
pub fn is_main_series(series: &str) -> bool {
    series == MAIN_CODE || matches!(Series::parse(series), Series::Main(..))
}

/// A series of a year takes only documents issued in that year (India time): a number of
/// 2025–26 on a bill dated in April 2026 would break the year's consecutive numbering.
pub fn check_issue_year(series: &str, issued_at: DateTime<Utc>) -> Result<(), String> {
    match Series::parse(series).year() {
        Some(year) if year != FinancialYear::of(issued_at) => Err(format!(
            "Series {series} is for the financial year {}; this document is dated {} (financial year {}).",
            year.label(),
            india_date(issued_at).format("%d-%m-%Y"),
            FinancialYear::of(issued_at).label()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn the_year_turns_on_1_april_in_india() {
        // 31 March 23:30 IST is 18:00 UTC: still 2025–26.
        assert_eq!(FinancialYear::of(at(2026, 3, 31, 18, 0)).label(), "2526");
        // 1 April 00:10 IST is 31 March 18:40 UTC: already 2026–27.
        assert_eq!(FinancialYear::of(at(2026, 3, 31, 18, 40)).label(), "2627");
        assert_eq!(
            main_series(Document::Invoice, at(2026, 1, 15, 6, 0)),
            "2526-INV"
        );
        assert_eq!(
            main_series(Document::CreditNote, at(2026, 1, 15, 6, 0)),
            "2526-CN"
        );
        let april = at(2026, 4, 1, 6, 0);
        assert_eq!(device_series(Document::Invoice, "D12", april), "2627-D12");
        assert_eq!(
            device_series(Document::CreditNote, "D12", april),
            "2627-C12"
        );
        assert_eq!(
            FinancialYear(2025).last_credit_note_day(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        assert_eq!(FinancialYear(2099).label(), "9900");
    }

    #[test]
    fn series_names_are_read_back() {
        use Document::{CreditNote, Invoice};
        let fy = FinancialYear(2025);
        assert_eq!(Series::parse("2526-INV"), Series::Main(Invoice, fy));
        assert_eq!(Series::parse("2526-CN"), Series::Main(CreditNote, fy));
        assert_eq!(Series::parse("2526-D7"), Series::Device(Invoice, fy, 7));
        assert_eq!(Series::parse("2526-C7"), Series::Device(CreditNote, fy, 7));
        assert_eq!(Series::parse("2526-C7").document(), CreditNote);
        assert_eq!(Series::parse("D3AF2C1").document(), Invoice);
        for legacy in [
            "INV",
            "D3AF2C1",
            "2527-INV",
            "2526-D0",
            "2526-D07",
            "2526-X1",
            "DESK-2",
            "2526-C1000",
        ] {
            assert_eq!(Series::parse(legacy), Series::Legacy(legacy), "{legacy}");
        }
        assert!(is_main_series("INV") && is_main_series("2526-INV") && is_main_series("2526-CN"));
        assert!(!is_main_series("2526-D1") && !is_main_series("D3AF2C1"));
        assert_eq!(device_code(999).as_deref(), Some("D999"));
        assert_eq!(device_code(1000), None);
        assert_eq!(device_code(0), None);
    }

    #[test]
    fn a_printed_number_fits_rule_46b() {
        let longest = crate::gst::invoice_number("2526-D999", 999_999);
        assert_eq!(longest, "2526-D999/999999");
        assert!(longest.len() <= 16);
        assert_eq!("2526-D999".len(), MAX_SERIES_LEN);
    }

    #[test]
    fn a_series_of_a_year_takes_only_that_years_invoices() {
        assert!(check_issue_year("2526-D3", at(2026, 3, 31, 18, 0)).is_ok());
        let refused = check_issue_year("2526-D3", at(2026, 4, 2, 5, 0)).unwrap_err();
        assert!(refused.contains("2627"), "{refused}");
        assert!(check_issue_year("D3AF2C1", at(2030, 1, 1, 0, 0)).is_ok());
    }
}
