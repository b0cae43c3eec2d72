//! GSTR-1, the statement of outward supplies a registered clinic files monthly (or
//! quarterly under QRMP), built from its invoices: B2B invoices (table 4A), B2C small
//! supplies by place of supply and rate (table 7), nil-rated and exempt supplies (table 8),
//! the HSN/SAC summary split into B2B and B2C (table 12) and the documents issued per series
//! (table 13); and the period's credit notes: to registered businesses in table 9B (CDNR),
//! to consumers netted off tables 7 and 8, every one netted off table 12 and counted in
//! table 13 as credit notes. A pure function of the invoices, so it is tested without a database; the
//! server feeds it the rows its RLS shows the caller. Amounts are integer paise here and
//! rupees only in [`Gstr1Report::offline_tool_json`], the file the GST offline tool imports.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::InvoiceRecipient;
use crate::gst::{invoice_number as printed, LineTax, TaxTreatment};

/// The return period: a month, or the quarter starting at `month` for quarterly filers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, IntoParams, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Gstr1Query {
    pub year: i32,
    /// 1–12; for a quarter, its first month (April, July, October or January).
    pub month: u32,
    /// 1 (monthly return, the default) or 3 (quarterly, QRMP).
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub months: Option<u32>,
}

impl Gstr1Query {
    /// The first and last day of the period (India dates).
    pub fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        let from = NaiveDate::from_ymd_opt(self.year, self.month, 1)?;
        let next = from.checked_add_months(Months::new(self.months.unwrap_or(1)))?;
        Some((from, next.pred_opt()?))
    }

    /// `MMYYYY` of the period's last month, as GSTN names a return period.
    pub fn return_period(&self) -> String {
        let last = self.days().map_or(NaiveDate::MIN, |(_, to)| to);
        format!("{:02}{:04}", last.month(), last.year())
    }
}

/// One invoice line as GSTR-1 needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SuppliedLine {
    pub sac_hsn: String,
    pub description: String,
    pub quantity: i64,
    pub rate_bp: u32,
    pub tax: LineTax,
    pub treatment: TaxTreatment,
    /// GSTN's unit quantity code (`NA` for services).
    pub unit: String,
}

/// One invoice of the period, with its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct SuppliedInvoice {
    pub series: String,
    pub number: i64,
    pub invoice_number: String,
    pub issued_on: NaiveDate,
    pub place_of_supply: String,
    pub recipient: Option<InvoiceRecipient>,
    pub total_paise: i64,
    pub lines: Vec<SuppliedLine>,
    /// Cancelled since: reported in table 13 as a cancelled number, in no other table.
    pub cancelled: bool,
}

/// One credit note of the period (by its own date), with the lines it credits.
#[derive(Debug, Clone, PartialEq)]
pub struct SuppliedCreditNote {
    pub series: String,
    pub number: i64,
    pub note_number: String,
    pub issued_on: NaiveDate,
    /// The invoice it corrects (its place of supply and recipient are the note's).
    pub invoice_number: String,
    pub invoice_issued_on: NaiveDate,
    pub place_of_supply: String,
    pub recipient: Option<InvoiceRecipient>,
    pub total_paise: i64,
    /// The credited parts (`quantity` 0: a credit gives back value, not units).
    pub lines: Vec<SuppliedLine>,
}

/// Tax at one rate: taxable value and the taxes on it, in paise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RateAmounts {
    pub rate_bp: u32,
    pub taxable_paise: i64,
    pub igst_paise: i64,
    pub cgst_paise: i64,
    /// SGST, or UTGST in a union territory without a legislature (GSTN's one column).
    pub sgst_paise: i64,
}

impl RateAmounts {
    fn add(&mut self, tax: &LineTax) {
        self.taxable_paise += tax.taxable_paise;
        self.igst_paise += tax.igst_paise;
        self.cgst_paise += tax.cgst_paise;
        self.sgst_paise += tax.sgst_paise;
    }

    fn sub(&mut self, tax: &LineTax) {
        self.taxable_paise -= tax.taxable_paise;
        self.igst_paise -= tax.igst_paise;
        self.cgst_paise -= tax.cgst_paise;
        self.sgst_paise -= tax.sgst_paise;
    }
}

/// Table 9B (CDNR): one credit note to a registered business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreditNoteRow {
    pub recipient_gstin: String,
    pub recipient_name: String,
    pub note_number: String,
    pub issued_on: NaiveDate,
    pub invoice_number: String,
    pub invoice_issued_on: NaiveDate,
    /// The whole note, exempt lines included.
    pub value_paise: i64,
    pub place_of_supply: String,
    /// Its taxed lines, one row per rate.
    pub items: Vec<RateAmounts>,
}

/// Table 4A: one invoice to a registered business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct B2bInvoice {
    pub recipient_gstin: String,
    pub recipient_name: String,
    pub invoice_number: String,
    pub issued_on: NaiveDate,
    /// The whole invoice, exempt lines included.
    pub value_paise: i64,
    pub place_of_supply: String,
    /// Its taxed lines, one row per rate.
    pub items: Vec<RateAmounts>,
}

/// Table 7: supplies to consumers, summed per place of supply and rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct B2csRow {
    pub place_of_supply: String,
    #[serde(flatten)]
    pub amounts: RateAmounts,
}

/// Table 8: untaxed supplies, to businesses or to consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NilRow {
    /// GSTN's supply type: `INTRAB2B` or `INTRAB2C` (a clinic's supplies are intra-state).
    pub supply_type: String,
    /// Nil-rated, exempt (most clinical care: Notification 12/2017-CT(Rate), entry 74) and
    /// non-GST supplies, each by its line's treatment.
    pub nil_paise: i64,
    pub exempt_paise: i64,
    pub non_gst_paise: i64,
}

impl NilRow {
    fn amount(&mut self, treatment: TaxTreatment) -> Option<&mut i64> {
        match treatment {
            TaxTreatment::NilRated => Some(&mut self.nil_paise),
            TaxTreatment::Exempt => Some(&mut self.exempt_paise),
            TaxTreatment::NonGst => Some(&mut self.non_gst_paise),
            TaxTreatment::Taxable => None,
        }
    }
}

/// Table 12: one SAC/HSN code at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HsnRow {
    pub sac_hsn: String,
    pub description: String,
    /// Unit quantity code: `NA` for services (SAC 99…), `NOS` (numbers) for goods.
    pub uqc: String,
    pub quantity: i64,
    #[serde(flatten)]
    pub amounts: RateAmounts,
}

/// GSTN's names of the documents of table 13.
pub const INVOICES: &str = "Invoices for outward supply";
pub const CREDIT_NOTES: &str = "Credit Note";

/// Table 13: the numbers one series used in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DocumentSeries {
    /// The nature of the documents ([`INVOICES`] or [`CREDIT_NOTES`]).
    pub nature: String,
    pub series: String,
    /// First and last number used, as printed.
    pub from: String,
    pub to: String,
    /// Issued and cancelled together.
    pub total: i64,
    pub cancelled: i64,
    pub net_issued: i64,
    /// Numbers between the first and the last that are neither issued nor recorded as
    /// cancelled in the period: a gap the accountant must explain (Rule 46(b) asks for
    /// consecutive numbers). Zero in a sound series.
    #[serde(default)]
    pub missing: i64,
}

/// A clinic's GSTR-1 for one return period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Gstr1Report {
    pub clinic_id: Uuid,
    pub gstin: String,
    /// `MMYYYY` of the period's last month.
    pub return_period: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub b2b: Vec<B2bInvoice>,
    /// Table 9B: credit notes to registered businesses.
    pub cdnr: Vec<CreditNoteRow>,
    /// Table 7, net of the period's credit notes to consumers.
    pub b2cs: Vec<B2csRow>,
    pub nil: Vec<NilRow>,
    pub hsn_b2b: Vec<HsnRow>,
    pub hsn_b2c: Vec<HsnRow>,
    pub documents: Vec<DocumentSeries>,
    /// The period's invoices that stand (cancelled ones aside): value, taxable value and
    /// taxes.
    pub invoices: i64,
    pub value_paise: i64,
    pub totals: RateAmounts,
    /// The period's credit notes: how many, their value, taxable value and taxes.
    pub credit_notes: i64,
    pub credited_paise: i64,
    pub credit_totals: RateAmounts,
}

/// A number of a series that was cancelled in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledNumber {
    pub series: String,
    pub number: i64,
}

/// Adds (`sign` 1) or takes off (`sign` -1, a credit note) one line in the tables 8 and 12
/// and in table 7 or the B2B items.
struct Tables {
    b2cs: BTreeMap<(String, u32), RateAmounts>,
    nil: BTreeMap<&'static str, NilRow>,
    /// B2B, B2C; per code, rate and unit.
    hsn: [BTreeMap<(String, u32, String), HsnRow>; 2],
}

impl Tables {
    fn line(
        &mut self,
        line: &SuppliedLine,
        place_of_supply: &str,
        business: bool,
        items: &mut BTreeMap<u32, RateAmounts>,
        credit: bool,
    ) {
        let apply = |a: &mut RateAmounts| {
            if credit {
                a.sub(&line.tax)
            } else {
                a.add(&line.tax)
            }
        };
        let signed = if credit {
            -line.tax.taxable_paise
        } else {
            line.tax.taxable_paise
        };
        if line.treatment == TaxTreatment::Taxable {
            if business {
                apply(items.entry(line.rate_bp).or_default());
            } else {
                apply(
                    self.b2cs
                        .entry((place_of_supply.to_owned(), line.rate_bp))
                        .or_default(),
                );
            }
        } else {
            let supply_type = if business { "INTRAB2B" } else { "INTRAB2C" };
            let row = self.nil.entry(supply_type).or_insert_with(|| NilRow {
                supply_type: supply_type.to_owned(),
                nil_paise: 0,
                exempt_paise: 0,
                non_gst_paise: 0,
            });
            if let Some(amount) = row.amount(line.treatment) {
                *amount += signed;
            }
        }
        // Non-GST supplies are outside GST: not in the HSN summary.
        if line.treatment == TaxTreatment::NonGst {
            return;
        }
        let row = self.hsn[usize::from(!business)]
            .entry((line.sac_hsn.clone(), line.rate_bp, line.unit.clone()))
            .or_insert_with(|| HsnRow {
                sac_hsn: line.sac_hsn.clone(),
                description: line.description.chars().take(30).collect(),
                uqc: line.unit.clone(),
                quantity: 0,
                amounts: RateAmounts::default(),
            });
        if !credit {
            row.quantity += line.quantity;
        }
        apply(&mut row.amounts);
    }
}

impl Gstr1Report {
    /// The report of `invoices` and `credit_notes` (the period's, in any order) and the
    /// numbers cancelled in it.
    pub fn build(
        clinic_id: Uuid,
        gstin: &str,
        query: &Gstr1Query,
        invoices: &[SuppliedInvoice],
        credit_notes: &[SuppliedCreditNote],
        cancelled: &[CancelledNumber],
    ) -> Gstr1Report {
        let (from, to) = query.days().unwrap_or((NaiveDate::MIN, NaiveDate::MIN));
        let mut b2b = Vec::new();
        let mut tables = Tables {
            b2cs: BTreeMap::new(),
            nil: BTreeMap::new(),
            hsn: [BTreeMap::new(), BTreeMap::new()],
        };
        let mut series: BTreeMap<String, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
        let mut totals = RateAmounts::default();
        let mut value_paise = 0;

        let mut sorted: Vec<&SuppliedInvoice> = invoices.iter().collect();
        sorted.sort_by(|a, b| (&a.series, a.number).cmp(&(&b.series, b.number)));
        let mut counted = 0;
        for inv in sorted {
            let numbers = series.entry(inv.series.clone()).or_default();
            if inv.cancelled {
                numbers.1.push(inv.number);
                continue;
            }
            numbers.0.push(inv.number);
            counted += 1;
            value_paise += inv.total_paise;
            let business = inv.recipient.is_some();
            let mut items: BTreeMap<u32, RateAmounts> = BTreeMap::new();
            for line in &inv.lines {
                totals.add(&line.tax);
                tables.line(line, &inv.place_of_supply, business, &mut items, false);
            }
            if let Some(recipient) = &inv.recipient {
                b2b.push(B2bInvoice {
                    recipient_gstin: recipient.gstin.clone(),
                    recipient_name: recipient.name.clone(),
                    invoice_number: inv.invoice_number.clone(),
                    issued_on: inv.issued_on,
                    value_paise: inv.total_paise,
                    place_of_supply: inv.place_of_supply.clone(),
                    items: items
                        .into_iter()
                        .map(|(rate_bp, a)| RateAmounts { rate_bp, ..a })
                        .collect(),
                });
            }
        }
        for c in cancelled {
            series.entry(c.series.clone()).or_default().1.push(c.number);
        }
        // Credit notes: 9B for businesses; for consumers, tables 7 and 8 net of them; table
        // 12 net of all of them (GSTN reports these tables net of notes).
        let mut cdnr = Vec::new();
        let mut notes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut credit_totals = RateAmounts::default();
        let mut credited_paise = 0;
        let mut sorted: Vec<&SuppliedCreditNote> = credit_notes.iter().collect();
        sorted.sort_by(|a, b| (&a.series, a.number).cmp(&(&b.series, b.number)));
        for note in sorted {
            notes
                .entry(note.series.clone())
                .or_default()
                .push(note.number);
            credited_paise += note.total_paise;
            let business = note.recipient.is_some();
            let mut items: BTreeMap<u32, RateAmounts> = BTreeMap::new();
            for line in &note.lines {
                credit_totals.add(&line.tax);
                // 9B lists the note's own items, as given back; tables 7, 8 and 12 are
                // netted (a business's taxed lines are in 9B, not table 7: nothing to net).
                if business && line.treatment == TaxTreatment::Taxable {
                    items.entry(line.rate_bp).or_default().add(&line.tax);
                }
                let mut netted_in_9b = BTreeMap::new();
                tables.line(
                    line,
                    &note.place_of_supply,
                    business,
                    &mut netted_in_9b,
                    true,
                );
            }
            if let Some(recipient) = &note.recipient {
                cdnr.push(CreditNoteRow {
                    recipient_gstin: recipient.gstin.clone(),
                    recipient_name: recipient.name.clone(),
                    note_number: note.note_number.clone(),
                    issued_on: note.issued_on,
                    invoice_number: note.invoice_number.clone(),
                    invoice_issued_on: note.invoice_issued_on,
                    value_paise: note.total_paise,
                    place_of_supply: note.place_of_supply.clone(),
                    items: items
                        .into_iter()
                        .map(|(rate_bp, a)| RateAmounts { rate_bp, ..a })
                        .collect(),
                });
            }
        }
        let note_series = notes.into_iter().map(|(name, numbers)| {
            let (low, high) = (
                numbers.iter().min().copied().unwrap_or(0),
                numbers.iter().max().copied().unwrap_or(0),
            );
            DocumentSeries {
                nature: CREDIT_NOTES.to_owned(),
                missing: (high - low + 1 - numbers.len() as i64).max(0),
                from: printed(&name, low),
                to: printed(&name, high),
                series: name,
                total: numbers.len() as i64,
                cancelled: 0,
                net_issued: numbers.len() as i64,
            }
        });
        let documents = series
            .into_iter()
            .map(|(name, (issued, cancelled))| {
                let all = issued.iter().chain(&cancelled);
                let (low, high) = (
                    all.clone().min().copied().unwrap_or(0),
                    all.max().copied().unwrap_or(0),
                );
                let total = (issued.len() + cancelled.len()) as i64;
                let mut used: Vec<i64> = issued.iter().chain(&cancelled).copied().collect();
                used.sort_unstable();
                used.dedup();
                let missing = (high - low + 1 - used.len() as i64).max(0);
                DocumentSeries {
                    nature: INVOICES.to_owned(),
                    missing,
                    from: printed(&name, low),
                    to: printed(&name, high),
                    series: name,
                    total,
                    cancelled: cancelled.len() as i64,
                    net_issued: issued.len() as i64,
                }
            })
            .chain(note_series)
            .collect();
        let hsn_rows = |map: BTreeMap<(String, u32, String), HsnRow>| {
            map.into_iter()
                .map(|((_, rate_bp, _), mut row)| {
                    row.amounts.rate_bp = rate_bp;
                    row
                })
                .collect::<Vec<_>>()
        };
        let Tables { b2cs, nil, hsn } = tables;
        let [hsn_b2b, hsn_b2c] = hsn;
        Gstr1Report {
            clinic_id,
            gstin: gstin.to_owned(),
            return_period: query.return_period(),
            from,
            to,
            invoices: counted,
            value_paise,
            b2b,
            cdnr,
            credit_notes: credit_notes.len() as i64,
            credited_paise,
            credit_totals,
            b2cs: b2cs
                .into_iter()
                .map(|((place_of_supply, rate_bp), a)| B2csRow {
                    place_of_supply,
                    amounts: RateAmounts { rate_bp, ..a },
                })
                .collect(),
            nil: nil.into_values().collect(),
            hsn_b2b: hsn_rows(hsn_b2b),
            hsn_b2c: hsn_rows(hsn_b2c),
            documents,
            totals,
        }
    }

    /// As CSV for the accountant: one section per table (a title line, a header, the rows),
    /// amounts in rupees with two decimals. Text fields (names, descriptions) are quoted.
    pub fn to_csv(&self) -> String {
        // Signed: tables 7, 8 and 12 are net of credit notes and may fall below zero.
        let r = |paise: i64| {
            let sign = if paise < 0 { "-" } else { "" };
            let abs = paise.unsigned_abs();
            format!("{sign}{}.{:02}", abs / 100, abs % 100)
        };
        let q = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
        let pct = crate::gst::format_rate;
        let tax = |a: &RateAmounts| {
            format!(
                "{},{},{},{},{}",
                pct(a.rate_bp).replace(' ', ""),
                r(a.taxable_paise),
                r(a.igst_paise),
                r(a.cgst_paise),
                r(a.sgst_paise)
            )
        };
        let mut out = format!(
            "GSTR-1,{},{},{} to {}\n",
            self.gstin, self.return_period, self.from, self.to
        );
        out.push_str("\nB2B invoices (table 4A)\nrecipient_gstin,recipient_name,invoice_number,invoice_date,invoice_value,place_of_supply,rate,taxable_value,igst,cgst,sgst_utgst\n");
        for b in &self.b2b {
            for item in &b.items {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{}\n",
                    b.recipient_gstin,
                    q(&b.recipient_name),
                    b.invoice_number,
                    b.issued_on.format("%d-%m-%Y"),
                    r(b.value_paise),
                    b.place_of_supply,
                    tax(item)
                ));
            }
        }
        out.push_str("\nCredit notes to registered persons (table 9B)\nrecipient_gstin,recipient_name,note_number,note_date,invoice_number,invoice_date,note_value,place_of_supply,rate,taxable_value,igst,cgst,sgst_utgst\n");
        for c in &self.cdnr {
            for item in &c.items {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{}\n",
                    c.recipient_gstin,
                    q(&c.recipient_name),
                    c.note_number,
                    c.issued_on.format("%d-%m-%Y"),
                    c.invoice_number,
                    c.invoice_issued_on.format("%d-%m-%Y"),
                    r(c.value_paise),
                    c.place_of_supply,
                    tax(item)
                ));
            }
        }
        out.push_str(
            "\nB2C small, net of credit notes (table 7)\nplace_of_supply,rate,taxable_value,igst,cgst,sgst_utgst\n",
        );
        for row in &self.b2cs {
            out.push_str(&format!("{},{}\n", row.place_of_supply, tax(&row.amounts)));
        }
        out.push_str(
            "\nNil rated, exempted and non-GST (table 8)\nsupply_type,nil_rated,exempted,non_gst\n",
        );
        for n in &self.nil {
            out.push_str(&format!(
                "{},{},{},{}\n",
                n.supply_type,
                r(n.nil_paise),
                r(n.exempt_paise),
                r(n.non_gst_paise)
            ));
        }
        for (title, rows) in [("B2B", &self.hsn_b2b), ("B2C", &self.hsn_b2c)] {
            out.push_str(&format!("\nHSN/SAC summary, {title} (table 12)\nsac_hsn,description,uqc,quantity,rate,taxable_value,igst,cgst,sgst_utgst\n"));
            for h in rows {
                out.push_str(&format!(
                    "{},{},{},{},{}\n",
                    h.sac_hsn,
                    q(&h.description),
                    h.uqc,
                    h.quantity,
                    tax(&h.amounts)
                ));
            }
        }
        out.push_str(
            "\nDocuments issued (table 13)\nnature,series,from,to,total,cancelled,net_issued,missing\n",
        );
        for d in &self.documents {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                q(&d.nature),
                d.series,
                d.from,
                d.to,
                d.total,
                d.cancelled,
                d.net_issued,
                d.missing
            ));
        }
        out
    }

    /// The return as the GST offline tool imports it (GSTN's JSON: rupees with paise as
    /// decimals, dates `DD-MM-YYYY`, rates in percent, no cess).
    pub fn offline_tool_json(&self) -> Value {
        fn rupees(paise: i64) -> Value {
            // Exact: every paise amount below 2^53 is a shortest-form decimal with ≤ 2 places.
            json!(paise as f64 / 100.0)
        }
        fn rate(bp: u32) -> Value {
            json!(f64::from(bp) / 100.0)
        }
        fn tax(a: &RateAmounts) -> serde_json::Map<String, Value> {
            let Value::Object(map) = json!({
                "txval": rupees(a.taxable_paise),
                "iamt": rupees(a.igst_paise),
                "camt": rupees(a.cgst_paise),
                "samt": rupees(a.sgst_paise),
                "csamt": 0,
            }) else {
                unreachable!("a JSON object literal")
            };
            map
        }
        let mut b2b: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for inv in &self.b2b {
            let items: Vec<Value> = inv
                .items
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut det = tax(a);
                    det.insert("rt".into(), rate(a.rate_bp));
                    json!({"num": i + 1, "itm_det": det})
                })
                .collect();
            b2b.entry(&inv.recipient_gstin).or_default().push(json!({
                "inum": inv.invoice_number,
                "idt": inv.issued_on.format("%d-%m-%Y").to_string(),
                "val": rupees(inv.value_paise),
                "pos": inv.place_of_supply,
                "rchrg": "N",
                "inv_typ": "R",
                "itms": items,
            }));
        }
        let mut cdnr: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for note in &self.cdnr {
            let items: Vec<Value> = note
                .items
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut det = tax(a);
                    det.insert("rt".into(), rate(a.rate_bp));
                    json!({"num": i + 1, "itm_det": det})
                })
                .collect();
            cdnr.entry(&note.recipient_gstin).or_default().push(json!({
                "ntty": "C",
                "nt_num": note.note_number,
                "nt_dt": note.issued_on.format("%d-%m-%Y").to_string(),
                "val": rupees(note.value_paise),
                "pos": note.place_of_supply,
                "rchrg": "N",
                "inv_typ": "R",
                "itms": items,
            }));
        }
        let docs = |nature: &str| -> Vec<Value> {
            self.documents
                .iter()
                .filter(|d| d.nature == nature)
                .enumerate()
                .map(|(i, d)| {
                    json!({
                        "num": i + 1,
                        "from": d.from,
                        "to": d.to,
                        "totnum": d.total,
                        "cancel": d.cancelled,
                        "net_issue": d.net_issued,
                    })
                })
                .collect()
        };
        let mut doc_det = vec![json!({"doc_num": 1, "doc_typ": INVOICES, "docs": docs(INVOICES)})];
        if self.documents.iter().any(|d| d.nature == CREDIT_NOTES) {
            doc_det
                .push(json!({"doc_num": 5, "doc_typ": CREDIT_NOTES, "docs": docs(CREDIT_NOTES)}));
        }
        let hsn = |rows: &[HsnRow]| -> Vec<Value> {
            rows.iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut row = tax(&r.amounts);
                    row.insert("num".into(), json!(i + 1));
                    row.insert("hsn_sc".into(), json!(r.sac_hsn));
                    row.insert("desc".into(), json!(r.description));
                    row.insert("uqc".into(), json!(r.uqc));
                    row.insert("qty".into(), json!(r.quantity));
                    row.insert("rt".into(), rate(r.amounts.rate_bp));
                    Value::Object(row)
                })
                .collect()
        };
        json!({
            "gstin": self.gstin,
            "fp": self.return_period,
            "b2b": b2b
                .into_iter()
                .map(|(ctin, inv)| json!({"ctin": ctin, "inv": inv}))
                .collect::<Vec<_>>(),
            "b2cs": self.b2cs.iter().map(|r| {
                let mut row = tax(&r.amounts);
                row.remove("iamt");
                row.insert("sply_ty".into(), json!("INTRA"));
                row.insert("pos".into(), json!(r.place_of_supply));
                row.insert("typ".into(), json!("OE"));
                row.insert("rt".into(), rate(r.amounts.rate_bp));
                Value::Object(row)
            }).collect::<Vec<_>>(),
            "nil": {"inv": self.nil.iter().map(|n| json!({
                "sply_ty": n.supply_type,
                "expt_amt": rupees(n.exempt_paise),
                "nil_amt": rupees(n.nil_paise),
                "ngsup_amt": rupees(n.non_gst_paise),
            })).collect::<Vec<_>>()},
            "hsn": {"hsn_b2b": hsn(&self.hsn_b2b), "hsn_b2c": hsn(&self.hsn_b2c)},
            "cdnr": cdnr
                .into_iter()
                .map(|(ctin, nt)| json!({"ctin": ctin, "nt": nt}))
                .collect::<Vec<_>>(),
            "doc_issue": {"doc_det": doc_det},
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gst::{tax_line, SupplyKind};
    use crate::rules::Validate;

    fn line(sac: &str, qty: i64, price: i64, rate_bp: u32) -> SuppliedLine {
        SuppliedLine {
            sac_hsn: sac.into(),
            description: "Item".into(),
            quantity: qty,
            rate_bp,
            tax: tax_line(qty, price, 0, rate_bp, SupplyKind::IntraState).unwrap(),
            treatment: TaxTreatment::default_for(rate_bp),
            unit: crate::gst::default_unit(sac).into(),
        }
    }

    fn invoice(
        series: &str,
        number: i64,
        lines: Vec<SuppliedLine>,
        recipient: Option<&str>,
    ) -> SuppliedInvoice {
        SuppliedInvoice {
            series: series.into(),
            number,
            invoice_number: printed(series, number),
            issued_on: NaiveDate::from_ymd_opt(2026, 4, 3).unwrap(),
            place_of_supply: "27".into(),
            recipient: recipient.map(|gstin| InvoiceRecipient {
                gstin: gstin.into(),
                name: "Acme Software Pvt Ltd".into(),
            }),
            total_paise: lines.iter().map(|l| l.tax.total_paise).sum(),
            lines,
            cancelled: false,
        }
    }

    fn april() -> Gstr1Query {
        Gstr1Query {
            year: 2026,
            month: 4,
            months: None,
        }
    }

    #[test]
    fn each_supply_goes_to_its_table() {
        let invoices = [
            // An exempt consultation, a cosmetic procedure at 18 %, medicines at 5 %.
            invoice("INV", 1, vec![line("999312", 1, 50_000, 0)], None),
            invoice("INV", 2, vec![line("999722", 1, 1_000_000, 1800)], None),
            invoice(
                "D3AF2C",
                4,
                vec![line("999312", 1, 50_000, 0), line("3004", 2, 10_000, 500)],
                None,
            ),
            // A company's health check-ups, partly taxed.
            invoice(
                "INV",
                3,
                vec![
                    line("999312", 10, 150_000, 0),
                    line("999722", 1, 200_000, 1800),
                ],
                Some("29AAGCA1234D1Z4"),
            ),
        ];
        let cancelled = [CancelledNumber {
            series: "D3AF2C".into(),
            number: 3,
        }];
        // A cancelled invoice: counted in table 13 only.
        let mut void = invoice("INV", 5, vec![line("999722", 1, 300_000, 1800)], None);
        void.cancelled = true;
        let invoices = [invoices.as_slice(), &[void]].concat();
        let r = Gstr1Report::build(
            Uuid::nil(),
            "27AAPFA1234C1ZV",
            &april(),
            &invoices,
            &[],
            &cancelled,
        );
        assert_eq!(r.return_period, "042026");
        assert_eq!(r.invoices, 4);

        assert_eq!(r.b2b.len(), 1);
        let b = &r.b2b[0];
        assert_eq!(b.value_paise, 1_500_000 + 236_000);
        assert_eq!(b.items.len(), 1, "only the taxed line, at its rate");
        assert_eq!(
            (
                b.items[0].rate_bp,
                b.items[0].taxable_paise,
                b.items[0].cgst_paise
            ),
            (1800, 200_000, 18_000)
        );

        let b2cs: Vec<_> = r
            .b2cs
            .iter()
            .map(|r| {
                (
                    r.amounts.rate_bp,
                    r.amounts.taxable_paise,
                    r.amounts.sgst_paise,
                )
            })
            .collect();
        assert_eq!(b2cs, [(500, 20_000, 500), (1800, 1_000_000, 90_000)]);

        let nil: Vec<_> = r
            .nil
            .iter()
            .map(|n| (n.supply_type.as_str(), n.exempt_paise))
            .collect();
        assert_eq!(nil, [("INTRAB2B", 1_500_000), ("INTRAB2C", 100_000)]);

        let hsn_b2c: Vec<_> = r
            .hsn_b2c
            .iter()
            .map(|h| {
                (
                    h.sac_hsn.as_str(),
                    h.uqc.as_str(),
                    h.quantity,
                    h.amounts.rate_bp,
                )
            })
            .collect();
        assert_eq!(
            hsn_b2c,
            [
                ("3004", "NOS", 2, 500),
                ("999312", "NA", 2, 0),
                ("999722", "NA", 1, 1800)
            ]
        );
        assert_eq!(r.hsn_b2b.len(), 2);

        let docs: Vec<_> = r
            .documents
            .iter()
            .map(|d| {
                (
                    d.from.as_str(),
                    d.to.as_str(),
                    d.total,
                    d.cancelled,
                    d.net_issued,
                )
            })
            .collect();
        assert_eq!(
            docs,
            [
                ("D3AF2C/000003", "D3AF2C/000004", 2, 1, 1),
                ("INV/000001", "INV/000005", 4, 1, 3)
            ]
        );

        // Every table adds up to the invoices.
        let taxable: i64 = r
            .b2b
            .iter()
            .flat_map(|b| &b.items)
            .map(|i| i.taxable_paise)
            .sum::<i64>()
            + r.b2cs.iter().map(|b| b.amounts.taxable_paise).sum::<i64>()
            + r.nil
                .iter()
                .map(|n| n.exempt_paise + n.nil_paise + n.non_gst_paise)
                .sum::<i64>();
        assert_eq!(taxable, r.totals.taxable_paise);
        let hsn_taxable: i64 = r
            .hsn_b2b
            .iter()
            .chain(&r.hsn_b2c)
            .map(|h| h.amounts.taxable_paise)
            .sum();
        assert_eq!(hsn_taxable, r.totals.taxable_paise);
    }

    fn credit(
        series: &str,
        number: i64,
        lines: Vec<SuppliedLine>,
        recipient: Option<&str>,
    ) -> SuppliedCreditNote {
        let inv = invoice("2627-INV", 1, Vec::new(), recipient);
        SuppliedCreditNote {
            series: series.into(),
            number,
            note_number: printed(series, number),
            issued_on: NaiveDate::from_ymd_opt(2026, 4, 20).unwrap(),
            invoice_number: inv.invoice_number,
            invoice_issued_on: inv.issued_on,
            place_of_supply: "27".into(),
            recipient: inv.recipient,
            total_paise: lines.iter().map(|l| l.tax.total_paise).sum(),
            lines: lines
                .into_iter()
                .map(|l| SuppliedLine { quantity: 0, ..l })
                .collect(),
        }
    }

    #[test]
    fn credit_notes_go_to_9b_or_net_off_the_consumer_tables() {
        let invoices = [
            invoice(
                "2627-INV",
                1,
                vec![
                    line("999722", 1, 1_000_000, 1800),
                    line("999312", 1, 50_000, 0),
                ],
                None,
            ),
            invoice(
                "2627-INV",
                2,
                vec![line("999722", 1, 200_000, 1800)],
                Some("29AAGCA1234D1Z4"),
            ),
        ];
        let notes = [
            // Half the consumer's procedure and all of the consultation given back.
            credit(
                "2627-CN",
                1,
                vec![
                    line("999722", 1, 500_000, 1800),
                    line("999312", 1, 50_000, 0),
                ],
                None,
            ),
            // The company's whole taxed line.
            credit(
                "2627-C3",
                1,
                vec![line("999722", 1, 200_000, 1800)],
                Some("29AAGCA1234D1Z4"),
            ),
        ];
        let r = Gstr1Report::build(
            Uuid::nil(),
            "27AAPFA1234C1ZV",
            &april(),
            &invoices,
            &notes,
            &[],
        );
        assert_eq!(r.cdnr.len(), 1);
        let c = &r.cdnr[0];
        assert_eq!(
            (c.note_number.as_str(), c.value_paise),
            ("2627-C3/000001", 236_000)
        );
        assert_eq!((c.items[0].rate_bp, c.items[0].cgst_paise), (1800, 18_000));
        assert_eq!(c.invoice_number, "2627-INV/000001");
        // Table 7 net: ₹10,000 − ₹5,000 at 18 %; table 8 net: the consultation is gone.
        assert_eq!(
            r.b2cs
                .iter()
                .map(|b| (b.amounts.taxable_paise, b.amounts.sgst_paise))
                .collect::<Vec<_>>(),
            [(500_000, 45_000)]
        );
        assert_eq!(
            r.nil.iter().map(|n| n.exempt_paise).collect::<Vec<_>>(),
            [0]
        );
        // Table 12 net of both notes; quantities stay those invoiced.
        let peel_b2c = r.hsn_b2c.iter().find(|h| h.sac_hsn == "999722").unwrap();
        assert_eq!(
            (peel_b2c.quantity, peel_b2c.amounts.taxable_paise),
            (1, 500_000)
        );
        let peel_b2b = r.hsn_b2b.iter().find(|h| h.sac_hsn == "999722").unwrap();
        assert_eq!(peel_b2b.amounts.taxable_paise, 0);
        // Table 13: credit notes per series, beside the invoices.
        let natures: Vec<_> = r
            .documents
            .iter()
            .map(|d| (d.nature.as_str(), d.series.as_str(), d.total))
            .collect();
        assert_eq!(
            natures,
            [
                (INVOICES, "2627-INV", 2),
                (CREDIT_NOTES, "2627-C3", 1),
                (CREDIT_NOTES, "2627-CN", 1)
            ]
        );
        assert_eq!(
            (r.credit_notes, r.credited_paise),
            (2, 590_000 + 50_000 + 236_000)
        );
        let j = r.offline_tool_json();
        assert_eq!(j["cdnr"][0]["ctin"], "29AAGCA1234D1Z4");
        assert_eq!(j["cdnr"][0]["nt"][0]["ntty"], "C");
        assert_eq!(j["cdnr"][0]["nt"][0]["nt_dt"], "20-04-2026");
        assert_eq!(j["doc_issue"]["doc_det"][1]["doc_num"], 5);
        assert_eq!(
            j["doc_issue"]["doc_det"][1]["docs"][1]["from"],
            "2627-CN/000001"
        );
        // A net below zero prints as such in the CSV.
        let only_notes = Gstr1Report::build(
            Uuid::nil(),
            "27AAPFA1234C1ZV",
            &april(),
            &[],
            &notes[..1],
            &[],
        );
        assert!(
            only_notes
                .to_csv()
                .contains("27,18%,-5000.00,0.00,-450.00,-450.00"),
            "{}",
            only_notes.to_csv()
        );
    }

    #[test]
    fn a_gap_in_a_series_is_counted() {
        let invoices = [
            invoice("2627-D1", 1, vec![line("999312", 1, 50_000, 0)], None),
            invoice("2627-D1", 4, vec![line("999312", 1, 50_000, 0)], None),
        ];
        let cancelled = [CancelledNumber {
            series: "2627-D1".into(),
            number: 2,
        }];
        let r = Gstr1Report::build(
            Uuid::nil(),
            "27AAPFA1234C1ZV",
            &april(),
            &invoices,
            &[],
            &cancelled,
        );
        let d = &r.documents[0];
        assert_eq!(
            (d.total, d.cancelled, d.net_issued, d.missing),
            (3, 1, 2, 1),
            "number 3 is missing"
        );
        assert!(
            r.to_csv().contains("2627-D1/000001,2627-D1/000004,3,1,2,1"),
            "{}",
            r.to_csv()
        );
    }

    #[test]
    fn untaxed_lines_are_reported_by_treatment_and_goods_by_unit() {
        let treated = |l: SuppliedLine, treatment: TaxTreatment, unit: &str| SuppliedLine {
            treatment,
            unit: unit.into(),
            ..l
        };
        let invoices = [invoice(
            "2627-INV",
            1,
            vec![
                line("999312", 1, 50_000, 0),
                treated(line("3004", 2, 5_000, 0), TaxTreatment::NilRated, "BTL"),
                treated(line("999799", 1, 20_000, 0), TaxTreatment::NonGst, "NA"),
                treated(line("3004", 3, 1_000, 500), TaxTreatment::Taxable, "TBS"),
            ],
            None,
        )];
        let r = Gstr1Report::build(
            Uuid::nil(),
            "27AAPFA1234C1ZV",
            &april(),
            &invoices,
            &[],
            &[],
        );
        let n = &r.nil[0];
        assert_eq!(
            (
                n.supply_type.as_str(),
                n.nil_paise,
                n.exempt_paise,
                n.non_gst_paise
            ),
            ("INTRAB2C", 10_000, 50_000, 20_000)
        );
        let units: Vec<_> = r
            .hsn_b2c
            .iter()
            .map(|h| (h.sac_hsn.as_str(), h.uqc.as_str(), h.quantity))
            .collect();
        // Non-GST supplies are not in the HSN summary; each unit of a code is its own row.
        assert_eq!(
            units,
            [("3004", "BTL", 2), ("3004", "TBS", 3), ("999312", "NA", 1)]
        );
        let j = r.offline_tool_json();
        assert_eq!(j["nil"]["inv"][0]["nil_amt"], json!(100.0));
        assert_eq!(j["nil"]["inv"][0]["ngsup_amt"], json!(200.0));
    }

    #[test]
    fn the_offline_tool_file_has_gstn_fields_in_rupees() {
        let invoices = [invoice(
            "INV",
            7,
            vec![line("999722", 1, 123_456, 1800)],
            Some("29AAGCA1234D1Z4"),
        )];
        let j = Gstr1Report::build(
            Uuid::nil(),
            "27AAPFA1234C1ZV",
            &april(),
            &invoices,
            &[],
            &[],
        )
        .offline_tool_json();
        assert_eq!(j["fp"], "042026");
        let inv = &j["b2b"][0]["inv"][0];
        assert_eq!(j["b2b"][0]["ctin"], "29AAGCA1234D1Z4");
        assert_eq!(inv["inum"], "INV/000007");
        assert_eq!(inv["idt"], "03-04-2026");
        assert_eq!(inv["val"], json!(1456.78));
        assert_eq!(inv["itms"][0]["itm_det"]["rt"], json!(18.0));
        assert_eq!(inv["itms"][0]["itm_det"]["camt"], json!(111.11));
        assert_eq!(j["doc_issue"]["doc_det"][0]["docs"][0]["totnum"], 1);
        assert_eq!(j["hsn"]["hsn_b2b"][0]["hsn_sc"], "999722");
    }

    #[test]
    fn the_csv_quotes_names_and_shows_rupees() {
        let mut inv = invoice(
            "INV",
            1,
            vec![line("999722", 1, 100_000, 1800)],
            Some("29AAGCA1234D1Z4"),
        );
        inv.recipient.as_mut().unwrap().name = "Acme, \"Labs\"".into();
        let csv =
            Gstr1Report::build(Uuid::nil(), "27AAPFA1234C1ZV", &april(), &[inv], &[], &[]).to_csv();
        assert!(csv.contains("29AAGCA1234D1Z4,\"Acme, \"\"Labs\"\"\",INV/000001,03-04-2026,1180.00,27,18%,1000.00,0.00,90.00,90.00\n"), "{csv}");
        assert!(csv.contains("INV,INV/000001,INV/000001,1,0,1,0\n"));
    }

    #[test]
    fn periods() {
        let q = Gstr1Query {
            year: 2027,
            month: 1,
            months: Some(3),
        };
        assert_eq!(
            q.days(),
            Some((
                NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()
            ))
        );
        assert_eq!(q.return_period(), "032027");
        assert!(q.clone().validate(NaiveDate::MIN).is_ok());
        let bad = |year, month, months| {
            Gstr1Query {
                year,
                month,
                months,
            }
            .validate(NaiveDate::MIN)
            .unwrap_err()
            .field
            .unwrap()
        };
        assert_eq!(bad(2026, 5, Some(3)), "month");
        assert_eq!(bad(2026, 13, None), "month");
        assert_eq!(bad(2026, 4, Some(2)), "months");
        assert_eq!(bad(2016, 4, None), "year");
    }
}
