//! The SQL functions the partition's schema calls, registered on every connection to a
//! clinic file before its first statement past the key.
//!
//! They let the file keep less: a clinic file is one clinic's, so its entity rows do not
//! carry the clinic's id ([`CLINIC_ID`] puts it back on read), and the digits-only forms
//! that search indexes a patient's phone and ABHA number by are virtual generated columns
//! ([`PHONE_SEARCH`], [`DIGITS`]) computed by the one rule in `vaidya_shared::search`, not
//! stored beside the numbers they come from. A connection without them can still read
//! every stored column; writing a patient or reading a search form fails with "no such
//! function", loudly, never with a wrong value.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use uuid::Uuid;
use vaidya_shared::search;

/// `vaidya_clinic_id()`: the 16 bytes of the file's clinic, read where a row's clinic is.
pub(crate) const CLINIC_ID: &str = "vaidya_clinic_id";
/// `vaidya_phone_search(phone)`: the forms a phone is found by, space-separated.
pub(crate) const PHONE_SEARCH: &str = "vaidya_phone_search";
/// `vaidya_digits(text)`: the ASCII digits of the text, in order.
pub(crate) const DIGITS: &str = "vaidya_digits";

/// Text from a column that may be NULL (none) or, stored by hand, not text at all (read as
/// none too: such a value has no digits a desk would type).
fn text_arg<'a>(value: ValueRef<'a>) -> Option<&'a str> {
    match value {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// Registers the partition's functions on `conn`, for the clinic whose file it opened.
///
/// All three are deterministic (the clinic's id is a constant of the connection) and
/// innocuous (no side effects, no state read), as SQLite requires of functions a schema's
/// generated columns call.
pub fn register_sql_functions(conn: &Connection, clinic_id: Uuid) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    let clinic = clinic_id.into_bytes().to_vec();
    conn.create_scalar_function(CLINIC_ID, 0, flags, move |_| Ok(clinic.clone()))?;
    conn.create_scalar_function(PHONE_SEARCH, 1, flags, |ctx| {
        Ok(search::phone_forms(text_arg(ctx.get_raw(0))).join(" "))
    })?;
    conn.create_scalar_function(DIGITS, 1, flags, |ctx| {
        Ok(search::digits(text_arg(ctx.get_raw(0)).unwrap_or("")))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_functions_give_the_shared_search_forms_and_the_clinic() {
        let conn = Connection::open_in_memory().unwrap();
        let clinic = Uuid::new_v4();
        register_sql_functions(&conn, clinic).unwrap();
        let (id, phone, none, abha, number): (Vec<u8>, String, String, String, String) = conn
            .query_row(
                "SELECT vaidya_clinic_id(), vaidya_phone_search('+91 98450 12345'),
                        vaidya_phone_search(NULL), vaidya_digits('12-3456-7890-1234'),
                        vaidya_digits(42)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(id, clinic.as_bytes());
        assert_eq!(phone, "919845012345 9845012345", "the national number too");
        assert_eq!(none, "");
        assert_eq!(abha, "12345678901234");
        assert_eq!(number, "", "a stored number is not text a desk types");
    }
}
