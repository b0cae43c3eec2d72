//! The compact pull page (`?format=compact`): a page's changes grouped by entity kind, each
//! group naming its fields once and carrying each row as an array of values, without the
//! clinic id that every row of a clinic's feed repeats.
//!
//! The columns come from the entities themselves, as each kind's record type serializes
//! (the entity registry's `Stored::Record`), not from a list kept here: a field added to a
//! record travels without touching this module. A group holds rows with the same set of
//! fields, so a value that is `null` stays `null` and a field that is absent stays absent;
//! every record type writes all its fields, so a page has one group per kind it carries.
//! Turning a compact page back into [`PullResponse`] gives exactly the page the server
//! would have sent in the verbose format (tested below), so the client applies both alike.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::sync::{Change, EntityKind, PullResponse};

/// The version of the compact layout this build writes and reads.
pub const COMPACT_PULL_VERSION: u32 = 1;

/// The field every row of a clinic's feed carries with the same value.
const CLINIC_FIELD: &str = "clinic_id";

/// Which layout a pull page comes in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PullFormat {
    /// [`PullResponse`]: each change with its entity as a JSON object (the default).
    #[default]
    Changes,
    /// [`CompactPullResponse`].
    Compact,
}

/// A pull page in the compact layout. `cursor`, `has_more`, `estimated_total` and
/// `settling` mean what they mean in [`PullResponse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompactPullResponse {
    /// The layout's version ([`COMPACT_PULL_VERSION`]).
    pub compact: u32,
    pub groups: Vec<CompactGroup>,
    /// The page's changes in feed order, each as the index of its group in `groups`: the
    /// n-th occurrence of a group's index is that group's n-th row.
    pub order: Vec<u32>,
    pub cursor: String,
    pub has_more: bool,
    pub estimated_total: Option<i64>,
    pub settling: bool,
}

/// Rows of one entity kind with the same fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompactGroup {
    pub entity: EntityKind,
    /// The entity's fields, in the order of each row's values.
    pub fields: Vec<String>,
    /// Whether each entity also has `clinic_id`, left out because it is the pulled clinic.
    pub clinic_omitted: bool,
    /// Each `[id, version, deleted, [values…]]`, a `CompactRow` (in the OpenAPI document an
    /// array of any values: a schema derive cannot name each position).
    #[schema(value_type = Vec<Vec<Value>>)]
    pub rows: Vec<CompactRow>,
}

/// One change: the entity's id, version, whether it is a tombstone, and its values in the
/// order of the group's `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactRow(pub Uuid, pub i64, pub bool, pub Vec<Value>);

/// A compact page that does not add up (the client refuses it whole, as any page it
/// cannot apply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactError {
    #[error("compact pull layout {0} is not one this build reads ({COMPACT_PULL_VERSION})")]
    Version(u32),
    #[error("the page's order names group {0}, which it does not have")]
    NoSuchGroup(u32),
    #[error("group {0} has fewer rows than the page's order takes from it")]
    MissingRows(u32),
    #[error("group {0} has rows the page's order never takes")]
    UnusedRows(usize),
    #[error("a row of group {group} has {values} values for {fields} fields")]
    RowWidth {
        group: usize,
        values: usize,
        fields: usize,
    },
    #[error("a change's entity is {0}, not a JSON object")]
    NotAnObject(&'static str),
}

impl CompactPullResponse {
    /// The compact form of a page of `clinic`'s feed. Every change's data must be an object
    /// (an entity's JSON), as the server's pull always makes it.
    pub fn from_page(clinic: Uuid, page: PullResponse) -> Result<Self, CompactError> {
        let clinic_value = Value::String(clinic.to_string());
        let mut groups: Vec<CompactGroup> = Vec::new();
        let mut order = Vec::with_capacity(page.changes.len());
        for change in page.changes {
            let Value::Object(mut data) = change.data else {
                return Err(CompactError::NotAnObject(type_name(&change.data)));
            };
            let clinic_omitted = data.get(CLINIC_FIELD) == Some(&clinic_value);
            if clinic_omitted {
                data.remove(CLINIC_FIELD);
            }
            // A page has a handful of groups (one per kind): a scan, comparing the field
            // names in place, costs less per row than building a key to look up.
            let found = groups.iter().position(|g| {
                g.entity == change.entity
                    && g.clinic_omitted == clinic_omitted
                    && g.fields.iter().eq(data.keys())
            });
            let index = found.unwrap_or_else(|| {
                groups.push(CompactGroup {
                    entity: change.entity,
                    fields: data.keys().cloned().collect(),
                    clinic_omitted,
                    rows: Vec::new(),
                });
                groups.len() - 1
            });
            let values = data.into_iter().map(|(_, v)| v).collect();
            groups[index].rows.push(CompactRow(
                change.id,
                change.version,
                change.deleted,
                values,
            ));
            order.push(index as u32);
        }
        Ok(CompactPullResponse {
            compact: COMPACT_PULL_VERSION,
            groups,
            order,
            cursor: page.cursor,
            has_more: page.has_more,
            estimated_total: page.estimated_total,
            settling: page.settling,
        })
    }

    /// The page as [`PullResponse`], changes in feed order, for `clinic`'s feed.
    pub fn into_page(self, clinic: Uuid) -> Result<PullResponse, CompactError> {
        if self.compact != COMPACT_PULL_VERSION {
            return Err(CompactError::Version(self.compact));
        }
        let clinic_value = Value::String(clinic.to_string());
        for (g, group) in self.groups.iter().enumerate() {
            if let Some(row) = group.rows.iter().find(|r| r.3.len() != group.fields.len()) {
                return Err(CompactError::RowWidth {
                    group: g,
                    values: row.3.len(),
                    fields: group.fields.len(),
                });
            }
        }
        let mut rows: Vec<_> = self
            .groups
            .into_iter()
            .map(|g| (g.entity, g.fields, g.clinic_omitted, g.rows.into_iter()))
            .collect();
        let mut changes = Vec::with_capacity(self.order.len());
        for index in self.order {
            let (entity, fields, clinic_omitted, group_rows) = rows
                .get_mut(index as usize)
                .ok_or(CompactError::NoSuchGroup(index))?;
            let CompactRow(id, version, deleted, values) =
                group_rows.next().ok_or(CompactError::MissingRows(index))?;
            let mut data = Map::with_capacity(fields.len() + 1);
            if *clinic_omitted {
                data.insert(CLINIC_FIELD.to_owned(), clinic_value.clone());
            }
            for (field, value) in fields.iter().zip(values) {
                data.insert(field.clone(), value);
            }
            changes.push(Change {
                entity: *entity,
                id,
                version,
                deleted,
                data: Value::Object(data),
            });
        }
        if let Some(g) = rows.iter_mut().position(|r| r.3.next().is_some()) {
            return Err(CompactError::UnusedRows(g));
        }
        Ok(PullResponse {
            changes,
            cursor: self.cursor,
            has_more: self.has_more,
            estimated_total: self.estimated_total,
            settling: self.settling,
        })
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(entity: EntityKind, data: Value) -> Change {
        Change {
            entity,
            id: Uuid::new_v4(),
            version: 3,
            deleted: false,
            data,
        }
    }

    fn page(changes: Vec<Change>) -> PullResponse {
        PullResponse {
            changes,
            cursor: "c".to_owned(),
            has_more: true,
            estimated_total: Some(9),
            settling: false,
        }
    }

    /// Kinds interleaved, nulls, nested children, a tombstone, a row of another clinic and
    /// one with a field the others lack: the round trip gives back the very page, in order.
    #[test]
    fn a_page_comes_back_exactly() {
        let clinic = Uuid::new_v4();
        let other = Uuid::new_v4();
        let mut tombstone = change(
            EntityKind::Patient,
            json!({ "clinic_id": clinic.to_string(), "name": "Asha", "phone": null }),
        );
        tombstone.deleted = true;
        let original = page(vec![
            change(
                EntityKind::Patient,
                json!({ "clinic_id": clinic.to_string(), "name": "Ravi", "phone": "98450" }),
            ),
            change(
                EntityKind::Invoice,
                json!({ "clinic_id": clinic.to_string(), "lines": [{ "clinic_id": clinic.to_string(), "n": 1 }] }),
            ),
            tombstone,
            change(
                EntityKind::Patient,
                json!({ "clinic_id": other.to_string(), "name": "Elsewhere", "phone": null }),
            ),
            change(
                EntityKind::Patient,
                json!({ "clinic_id": clinic.to_string(), "name": "Meena", "phone": null, "extra": 1 }),
            ),
            change(EntityKind::Conflict, json!({ "server_value": null })),
        ]);
        let compact = CompactPullResponse::from_page(clinic, original.clone()).unwrap();
        assert_eq!(compact.order, vec![0, 1, 0, 2, 3, 4]);
        assert_eq!(compact.groups[0].fields, vec!["name", "phone"]);
        assert!(compact.groups[0].clinic_omitted);
        assert!(
            !compact.groups[2].clinic_omitted,
            "another clinic's id is kept"
        );
        let wire = serde_json::to_string(&compact).unwrap();
        let back: CompactPullResponse = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.into_page(clinic).unwrap(), original);
    }

    #[test]
    fn a_page_that_does_not_add_up_is_refused() {
        let clinic = Uuid::new_v4();
        let good = CompactPullResponse::from_page(
            clinic,
            page(vec![change(EntityKind::Patient, json!({ "name": "Ravi" }))]),
        )
        .unwrap();
        let broken = |f: &dyn Fn(&mut CompactPullResponse)| {
            let mut p = good.clone();
            f(&mut p);
            p.into_page(clinic).unwrap_err()
        };
        assert_eq!(broken(&|p| p.compact = 2), CompactError::Version(2));
        assert_eq!(broken(&|p| p.order = vec![1]), CompactError::NoSuchGroup(1));
        assert_eq!(
            broken(&|p| p.order = vec![0, 0]),
            CompactError::MissingRows(0)
        );
        assert_eq!(broken(&|p| p.order.clear()), CompactError::UnusedRows(0));
        assert!(matches!(
            broken(&|p| p.groups[0].rows[0].3.push(json!(1))),
            CompactError::RowWidth { .. }
        ));
        assert_eq!(
            CompactPullResponse::from_page(
                clinic,
                page(vec![change(EntityKind::Patient, json!("text"))])
            )
            .unwrap_err(),
            CompactError::NotAnObject("a string")
        );
    }
}
