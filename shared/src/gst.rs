//! GST for invoice lines and whole invoices: integer paise, rates in basis points, the rate
//! schedule in force on the issue date, the document a supply needs (tax invoice, bill of
//! supply or both), place of supply, CGST with SGST or UTGST, and the GSTIN's check
//! character. Pure functions, shared by the server (authoritative) and the device (which
//! issues offline), so what one accepts the other accepts. The legal basis of each rule is
//! in docs/billing.md.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// GST rate schedules, each in force from its date (India time) until the next one's.
/// 1 July 2017: the rates at GST's start. 22 September 2025 (56th GST Council, "GST 2.0"):
/// 12 % and 28 % go, 40 % comes. The 28 % kept for tobacco products until the compensation
/// cess ends is left out: a clinic does not supply them.
pub const RATE_SCHEDULES: [(&str, &[u32]); 2] = [
    ("2017-07-01", &[0, 10, 25, 300, 500, 1200, 1800, 2800]),
    ("2025-09-22", &[0, 10, 25, 300, 500, 1800, 4000]),
];

/// Every rate of any schedule, in basis points (1800 = 18 %): what a stored line may hold.
pub const ALLOWED_RATES_BP: [u32; 9] = [0, 10, 25, 300, 500, 1200, 1800, 2800, 4000];

/// The rates in force on `day` (before GST: the first schedule).
pub fn rates_in_force(day: NaiveDate) -> &'static [u32] {
    let mut rates = RATE_SCHEDULES[0].1;
    for (from, schedule) in RATE_SCHEDULES {
        if from.parse::<NaiveDate>().is_ok_and(|from| day >= from) {
            rates = schedule;
        }
    }
    rates
}

use crate::rules::clock::india_date;

/// How GST treats a supply. Untaxed lines are told apart because GSTR-1 (table 8) reports
/// them apart: exempt (most clinical care, Notification 12/2017-CT(Rate) entry 74),
/// nil-rated (a 0 % rate in the schedule) and non-GST (outside GST altogether).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum TaxTreatment {
    Taxable,
    Exempt,
    NilRated,
    NonGst,
}

impl TaxTreatment {
    pub const ALL: [TaxTreatment; 4] = [
        TaxTreatment::Taxable,
        TaxTreatment::Exempt,
        TaxTreatment::NilRated,
        TaxTreatment::NonGst,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaxTreatment::Taxable => "taxable",
            TaxTreatment::Exempt => "exempt",
            TaxTreatment::NilRated => "nil_rated",
            TaxTreatment::NonGst => "non_gst",
        }
    }

    pub fn parse(s: &str) -> Option<TaxTreatment> {
        TaxTreatment::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A line's treatment when none is named: taxable at its rate, else exempt (a clinic's
    /// untaxed lines are almost always exempt care).
    pub fn default_for(rate_bp: u32) -> TaxTreatment {
        if rate_bp > 0 {
            TaxTreatment::Taxable
        } else {
            TaxTreatment::Exempt
        }
    }

    /// Whether a line at `rate_bp` may have this treatment: taxable lines carry a rate,
    /// untaxed ones none.
    pub fn fits_rate(self, rate_bp: u32) -> bool {
        (self == TaxTreatment::Taxable) == (rate_bp > 0)
    }
}

/// Units of quantity a line may be counted in: GSTN's unit quantity codes (UQC) that a
/// clinic's goods use, and `NA` for services (SAC codes, 99…), as GSTR-1 table 12 takes them.
pub const UNITS: [&str; 18] = [
    "NA", "NOS", "PCS", "BOX", "BTL", "PAC", "TBS", "TUB", "MLT", "LTR", "GMS", "KGS", "MTR",
    "SET", "UNT", "DOZ", "ROL", "OTH",
];

/// Whether a code is a service's (SAC codes all start with 99; HSN codes of goods never do).
pub fn is_service_code(sac_hsn: &str) -> bool {
    sac_hsn.starts_with("99")
}

/// A line's unit when none is named: `NA` for a service, numbers (`NOS`) for goods.
pub fn default_unit(sac_hsn: &str) -> &'static str {
    if is_service_code(sac_hsn) {
        "NA"
    } else {
        "NOS"
    }
}

/// The document a supply is billed on (CGST Rules 46, 46A and 49).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Only taxable lines: a tax invoice (Rule 46).
    TaxInvoice,
    /// No taxable line (exempt care, or a supplier without a GSTIN): a bill of supply
    /// (Rule 49).
    BillOfSupply,
    /// Taxable and untaxed lines together: an invoice-cum-bill of supply (Rule 46A).
    InvoiceCumBillOfSupply,
}

impl DocumentKind {
    /// The document for lines at these rates (0 = exempt, nil-rated or non-GST).
    pub fn for_rates(rates: impl IntoIterator<Item = u32>) -> DocumentKind {
        let (mut taxed, mut untaxed) = (false, false);
        for rate in rates {
            if rate > 0 {
                taxed = true;
            } else {
                untaxed = true;
            }
        }
        match (taxed, untaxed) {
            (true, true) => DocumentKind::InvoiceCumBillOfSupply,
            (true, false) => DocumentKind::TaxInvoice,
            (false, _) => DocumentKind::BillOfSupply,
        }
    }
}

/// The state-level half of an intra-state tax: SGST, or UTGST in a union territory without
/// a legislature (UTGST Act 2017, s. 7; Delhi, Puducherry and Jammu & Kashmir have
/// legislatures and levy SGST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum StateTax {
    Sgst,
    Utgst,
}

/// Union territories without a legislature: Chandigarh (04), Daman & Diu (25), Dadra &
/// Nagar Haveli and Daman & Diu (26), Lakshadweep (31), Andaman & Nicobar Islands (35),
/// Ladakh (38), Other Territory (97).
pub const UTGST_STATES: [&str; 7] = ["04", "25", "26", "31", "35", "38", "97"];

impl StateTax {
    pub fn of_state(state_code: &str) -> StateTax {
        if UTGST_STATES.contains(&state_code) {
            StateTax::Utgst
        } else {
            StateTax::Sgst
        }
    }
}

/// The supplier of an invoice: the clinic, as at the issue.
#[derive(Debug, Clone, Copy)]
pub struct Supplier<'a> {
    /// Two-digit GST state code of the clinic.
    pub state_code: &'a str,
    /// The clinic's GSTIN; without one it may not charge GST (CGST Act s. 9 and 32).
    pub gstin: Option<&'a str>,
}

/// One line to tax: quantity, unit price and discount in paise, rate in basis points.
#[derive(Debug, Clone, Copy)]
pub struct LineInput {
    pub quantity: i64,
    pub unit_price_paise: i64,
    pub discount_paise: i64,
    pub rate_bp: u32,
}

/// A whole invoice, taxed.
#[derive(Debug, Clone, PartialEq)]
pub struct TaxedInvoice {
    pub place_of_supply: String,
    pub supply_kind: SupplyKind,
    pub document: DocumentKind,
    pub lines: Vec<LineTax>,
    pub totals: LineTax,
}

/// Why an invoice cannot be issued as asked: the field at fault (as in the request,
/// `lines[2].gst_rate_bp`) and a sentence for the person issuing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRefusal {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for InvoiceRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Taxes an invoice the clinic issues on `issued_at`, by the rules:
/// - place of supply is the clinic's state: health services are supplied where they are
///   performed (IGST Act s. 12(4)) and goods handed over at the clinic are supplied there
///   (s. 10(1)(c)), so every line is intra-state. A different place asked for is refused.
/// - each rate must be in force on the issue date (India time);
/// - a clinic without a GSTIN charges no GST: a taxed line is refused.
pub fn tax_invoice(
    supplier: Supplier<'_>,
    place_of_supply: Option<&str>,
    lines: &[LineInput],
    issued_at: DateTime<Utc>,
) -> Result<TaxedInvoice, InvoiceRefusal> {
    let refuse = |field: String, message: String| InvoiceRefusal { field, message };
    if let Some(place) = place_of_supply {
        if place != supplier.state_code {
            return Err(refuse(
                "place_of_supply".into(),
                format!(
                    "Care given and goods handed over at the clinic are supplied in the clinic's state ({}),                      so the place of supply is that state.",
                    supplier.state_code
                ),
            ));
        }
    }
    let day = india_date(issued_at);
    let in_force = rates_in_force(day);
    let mut taxes = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let field = |name: &str| format!("lines[{i}].{name}");
        if !in_force.contains(&l.rate_bp) {
            return Err(refuse(
                field("gst_rate_bp"),
                format!(
                    "GST at {} is not a rate in force on {day}.",
                    format_rate(l.rate_bp)
                ),
            ));
        }
        if l.rate_bp > 0 && supplier.gstin.is_none() {
            return Err(refuse(
                field("gst_rate_bp"),
                "This clinic has no GSTIN, so it may not charge GST; bill the line at 0 %.".into(),
            ));
        }
        let tax = tax_line(
            l.quantity,
            l.unit_price_paise,
            l.discount_paise,
            l.rate_bp,
            SupplyKind::IntraState,
        )
        .map_err(|e| match e {
            GstError::RateNotAllowed(_) => refuse(field("gst_rate_bp"), e.to_string()),
            GstError::NegativeAmount => refuse(field("discount_paise"), e.to_string()),
            GstError::Overflow => refuse(field("quantity"), e.to_string()),
        })?;
        taxes.push(tax);
    }
    let totals = sum_lines(&taxes).map_err(|e| refuse("lines".into(), e.to_string()))?;
    Ok(TaxedInvoice {
        place_of_supply: supplier.state_code.to_owned(),
        supply_kind: SupplyKind::IntraState,
        document: DocumentKind::for_rates(lines.iter().map(|l| l.rate_bp)),
        lines: taxes,
        totals,
    })
}

/// The id of an invoice's line `index` (0-based, in the order given): derived from the
/// invoice's id (UUID v5), so a line has the same id on the PC that issued the invoice
/// offline and on the server, and a credit note made offline names the line the server
/// will know.
pub fn invoice_line_id(invoice_id: uuid::Uuid, index: usize) -> uuid::Uuid {
    uuid::Uuid::new_v5(&invoice_id, format!("line/{index}").as_bytes())
}

/// An invoice number as printed and reported: `<series>/<number>`, the number zero-padded
/// to six digits (`2526-D3/000042`; at most 16 characters, Rule 46(b): `numbering`).
pub fn invoice_number(series: &str, number: i64) -> String {
    format!("{series}/{number:06}")
}

/// A rate as people write it: 1800 → "18 %", 25 → "0.25 %".
pub fn format_rate(rate_bp: u32) -> String {
    let (whole, frac) = (rate_bp / 100, rate_bp % 100);
    match frac {
        0 => format!("{whole} %"),
        f if f % 10 == 0 => format!("{whole}.{} %", f / 10),
        f => format!("{whole}.{f:02} %"),
    }
}

const GSTIN_CHARS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The check character of a GSTIN's first 14 characters (the GSTN's mod-36 scheme), or
/// `None` when one of them is not a digit or capital letter.
pub fn gstin_check_char(first14: &str) -> Option<char> {
    if first14.len() != 14 {
        return None;
    }
    let mut sum = 0u32;
    for (i, c) in first14.bytes().enumerate() {
        let value = GSTIN_CHARS.iter().position(|&x| x == c)? as u32;
        let product = value * if i % 2 == 0 { 1 } else { 2 };
        sum += product / 36 + product % 36;
    }
    Some(GSTIN_CHARS[((36 - sum % 36) % 36) as usize] as char)
}

/// Why a GSTIN is not one.
pub fn check_gstin(gstin: &str, state_code: Option<&str>) -> Result<(), String> {
    let b = gstin.as_bytes();
    let shape = b.len() == 15
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2..7].iter().all(u8::is_ascii_uppercase)
        && b[7..11].iter().all(u8::is_ascii_digit)
        && b[11].is_ascii_uppercase()
        && (b[12].is_ascii_digit() || b[12].is_ascii_uppercase())
        && b[12] != b'0'
        && b[13] == b'Z';
    if !shape || !crate::validate::is_state_code(&gstin[..2]) {
        return Err(
            "A GSTIN has 15 characters: state code, PAN, entity number, Z and a check character (27AAPFA1234C1ZV)."
                .into(),
        );
    }
    if gstin_check_char(&gstin[..14]) != Some(b[14] as char) {
        return Err(
            "This GSTIN's check character does not match; check it for a typing error.".into(),
        );
    }
    if let Some(state) = state_code {
        if &gstin[..2] != state {
            return Err(format!(
                "This GSTIN is registered in state {}, not in the clinic's state {state}.",
                &gstin[..2]
            ));
        }
    }
    Ok(())
}

/// How a line's tax splits, decided by place of supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SupplyKind {
    /// Supplier and place of supply in the same state: CGST + SGST, half each.
    IntraState,
    /// Different states: IGST.
    InterState,
}

/// Tax amounts of one line, all in paise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LineTax {
    pub taxable_paise: i64,
    pub cgst_paise: i64,
    pub sgst_paise: i64,
    pub igst_paise: i64,
    pub total_paise: i64,
}

/// Why a line cannot be taxed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GstError {
    RateNotAllowed(u32),
    NegativeAmount,
    Overflow,
}

impl std::fmt::Display for GstError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GstError::RateNotAllowed(bp) => {
                write!(f, "GST rate {bp} basis points is not a GST rate")
            }
            GstError::NegativeAmount => f.write_str("amounts must not be negative"),
            GstError::Overflow => f.write_str("amount is too large"),
        }
    }
}

/// Round `numerator / denominator` to the nearest integer, halves away from zero
/// (the usual rounding for tax to the paisa). Both are non-negative here.
fn div_round(numerator: i128, denominator: i128) -> i128 {
    (numerator + denominator / 2) / denominator
}

/// Tax one line: `quantity × unit price − discount` at `rate_bp`.
///
/// For intra-state supply, CGST and SGST are each half the rate, computed separately and
/// rounded separately, so they are always equal (as printed on Indian tax invoices).
pub fn tax_line(
    quantity: i64,
    unit_price_paise: i64,
    discount_paise: i64,
    rate_bp: u32,
    kind: SupplyKind,
) -> Result<LineTax, GstError> {
    if !ALLOWED_RATES_BP.contains(&rate_bp) {
        return Err(GstError::RateNotAllowed(rate_bp));
    }
    if quantity < 0 || unit_price_paise < 0 || discount_paise < 0 {
        return Err(GstError::NegativeAmount);
    }
    let gross = (quantity as i128) * (unit_price_paise as i128);
    let taxable = gross - discount_paise as i128;
    if taxable < 0 {
        return Err(GstError::NegativeAmount);
    }
    let (cgst, sgst, igst) = match kind {
        SupplyKind::IntraState => {
            let half = div_round(taxable * rate_bp as i128, 20_000);
            (half, half, 0)
        }
        SupplyKind::InterState => (0, 0, div_round(taxable * rate_bp as i128, 10_000)),
    };
    let total = taxable + cgst + sgst + igst;
    let fit = |v: i128| i64::try_from(v).map_err(|_| GstError::Overflow);
    Ok(LineTax {
        taxable_paise: fit(taxable)?,
        cgst_paise: fit(cgst)?,
        sgst_paise: fit(sgst)?,
        igst_paise: fit(igst)?,
        total_paise: fit(total)?,
    })
}

/// Sum the taxes of several lines.
pub fn sum_lines(lines: &[LineTax]) -> Result<LineTax, GstError> {
    let mut sum = LineTax::default();
    for l in lines {
        sum.taxable_paise = sum
            .taxable_paise
            .checked_add(l.taxable_paise)
            .ok_or(GstError::Overflow)?;
        sum.cgst_paise = sum
            .cgst_paise
            .checked_add(l.cgst_paise)
            .ok_or(GstError::Overflow)?;
        sum.sgst_paise = sum
            .sgst_paise
            .checked_add(l.sgst_paise)
            .ok_or(GstError::Overflow)?;
        sum.igst_paise = sum
            .igst_paise
            .checked_add(l.igst_paise)
            .ok_or(GstError::Overflow)?;
        sum.total_paise = sum
            .total_paise
            .checked_add(l.total_paise)
            .ok_or(GstError::Overflow)?;
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_one_id_on_every_tier() {
        let invoice = uuid::Uuid::now_v7();
        assert_eq!(invoice_line_id(invoice, 0), invoice_line_id(invoice, 0));
        assert_ne!(invoice_line_id(invoice, 0), invoice_line_id(invoice, 1));
        assert_ne!(
            invoice_line_id(invoice, 0),
            invoice_line_id(uuid::Uuid::now_v7(), 0)
        );
    }

    #[test]
    fn intra_state_splits_equally() {
        let t = tax_line(2, 50_000, 0, 1800, SupplyKind::IntraState).unwrap();
        assert_eq!(t.taxable_paise, 100_000);
        assert_eq!(t.cgst_paise, 9_000);
        assert_eq!(t.sgst_paise, 9_000);
        assert_eq!(t.igst_paise, 0);
        assert_eq!(t.total_paise, 118_000);
    }

    #[test]
    fn inter_state_is_igst() {
        let t = tax_line(1, 33_333, 0, 1200, SupplyKind::InterState).unwrap();
        assert_eq!(t.igst_paise, 4_000); // 3999.96 rounds to 4000
        assert_eq!(t.cgst_paise + t.sgst_paise, 0);
    }

    #[test]
    fn halves_round_separately_and_stay_equal() {
        // 5 % of 101 paise = 5.05; 2.5 % each = 2.525 → 3 each.
        let t = tax_line(1, 101, 0, 500, SupplyKind::IntraState).unwrap();
        assert_eq!((t.cgst_paise, t.sgst_paise), (3, 3));
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            tax_line(1, 100, 0, 1700, SupplyKind::IntraState),
            Err(GstError::RateNotAllowed(1700))
        );
        assert_eq!(
            tax_line(1, 100, 200, 0, SupplyKind::IntraState),
            Err(GstError::NegativeAmount)
        );
        assert_eq!(
            tax_line(-1, 100, 0, 0, SupplyKind::IntraState),
            Err(GstError::NegativeAmount)
        );
        assert_eq!(
            tax_line(i64::MAX, i64::MAX, 0, 0, SupplyKind::IntraState),
            Err(GstError::Overflow)
        );
    }

    fn at(day: &str) -> DateTime<Utc> {
        // Noon in India on `day`.
        format!("{day}T06:30:00Z").parse().unwrap()
    }

    fn line(rate_bp: u32) -> LineInput {
        LineInput {
            quantity: 1,
            unit_price_paise: 100_000,
            discount_paise: 0,
            rate_bp,
        }
    }

    const GSTIN: Option<&str> = Some("27AAPFA1234C1ZV");

    #[test]
    fn rates_follow_the_schedule_of_the_issue_date() {
        let maharashtra = Supplier {
            state_code: "27",
            gstin: GSTIN,
        };
        // 12 % until 21 September 2025, 40 % from the 22nd (India time).
        assert!(tax_invoice(maharashtra, None, &[line(1200)], at("2025-09-21")).is_ok());
        let refused = tax_invoice(maharashtra, None, &[line(1200)], at("2025-09-22")).unwrap_err();
        assert_eq!(refused.field, "lines[0].gst_rate_bp");
        assert!(refused.message.contains("12 %"), "{refused}");
        assert!(tax_invoice(maharashtra, None, &[line(4000)], at("2025-09-21")).is_err());
        let t = tax_invoice(maharashtra, None, &[line(4000)], at("2025-09-22")).unwrap();
        assert_eq!(t.totals.cgst_paise + t.totals.sgst_paise, 40_000);
        // 21 Sep 2025, 23:00 in India is still the old schedule's day (17:30 UTC).
        let late: DateTime<Utc> = "2025-09-21T17:29:00Z".parse().unwrap();
        assert_eq!(india_date(late), "2025-09-21".parse::<NaiveDate>().unwrap());
        assert_eq!(
            india_date("2025-09-21T18:30:00Z".parse().unwrap()),
            "2025-09-22".parse::<NaiveDate>().unwrap()
        );
    }

    #[test]
    fn the_document_follows_the_lines_and_the_gstin() {
        let with = Supplier {
            state_code: "27",
            gstin: GSTIN,
        };
        let doc = |lines: &[LineInput]| {
            tax_invoice(with, None, lines, at("2026-04-01"))
                .unwrap()
                .document
        };
        assert_eq!(doc(&[line(0)]), DocumentKind::BillOfSupply);
        assert_eq!(doc(&[line(1800), line(500)]), DocumentKind::TaxInvoice);
        assert_eq!(
            doc(&[line(0), line(500)]),
            DocumentKind::InvoiceCumBillOfSupply
        );
        let without = Supplier {
            state_code: "27",
            gstin: None,
        };
        let t = tax_invoice(without, None, &[line(0), line(0)], at("2026-04-01")).unwrap();
        assert_eq!(t.document, DocumentKind::BillOfSupply);
        assert_eq!(t.totals.total_paise, 200_000);
        let refused =
            tax_invoice(without, None, &[line(0), line(500)], at("2026-04-01")).unwrap_err();
        assert_eq!(refused.field, "lines[1].gst_rate_bp");
    }

    #[test]
    fn place_of_supply_is_the_clinics_state() {
        let chandigarh = Supplier {
            state_code: "04",
            gstin: Some("04AAPFA1234C1Z3"),
        };
        let t = tax_invoice(chandigarh, Some("04"), &[line(1800)], at("2026-04-01")).unwrap();
        assert_eq!(
            (t.place_of_supply.as_str(), t.supply_kind),
            ("04", SupplyKind::IntraState)
        );
        assert_eq!(StateTax::of_state("04"), StateTax::Utgst);
        assert_eq!(
            StateTax::of_state("07"),
            StateTax::Sgst,
            "Delhi has a legislature"
        );
        assert_eq!(StateTax::of_state("38"), StateTax::Utgst, "Ladakh");
        let refused =
            tax_invoice(chandigarh, Some("27"), &[line(1800)], at("2026-04-01")).unwrap_err();
        assert_eq!(refused.field, "place_of_supply");
    }

    #[test]
    fn gstins_are_checked_by_shape_check_character_and_state() {
        assert_eq!(gstin_check_char("27AAPFA1234C1Z"), Some('V'));
        assert_eq!(check_gstin("27AAPFA1234C1ZV", Some("27")), Ok(()));
        // A published GSTIN (Reliance Industries, Maharashtra).
        assert_eq!(check_gstin("27AAACR5055K1Z7", None), Ok(()));
        assert!(check_gstin("27AAPFA1234C1Z5", None)
            .unwrap_err()
            .contains("check character"));
        assert!(check_gstin("27AAPFA1234C1ZV", Some("29"))
            .unwrap_err()
            .contains("state"));
        for bad in [
            "",
            "27AAPFA1234C1Z",
            "27aapfa1234c1zv",
            "99AAPFA1234C1ZV",
            "27AAPFA1234C0ZV",
            "27AAPFA1234C1YV",
        ] {
            assert!(check_gstin(bad, None).is_err(), "{bad}");
        }
        assert_eq!(format_rate(1800), "18 %");
        assert_eq!(format_rate(25), "0.25 %");
        assert_eq!(format_rate(10), "0.1 %");
    }
}
