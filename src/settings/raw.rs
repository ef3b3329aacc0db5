//! The variables' raw values, read once, and the parsing every setting shares (one error type, one
//! spelling of booleans).

use super::{Lookup, SettingsError, VARIABLES};

/// The values of [`VARIABLES`], all read up front (so a lookup sees every name the process uses).
pub(super) struct RawVars(Vec<(&'static str, Option<String>)>);

impl RawVars {
    pub(super) fn read(lookup: &Lookup) -> Self {
        Self(VARIABLES.iter().map(|v| (v.name, lookup(v.name))).collect())
    }

    /// The value as set, even when empty. Only names of [`VARIABLES`] can have one.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(
            VARIABLES.iter().any(|v| v.name == name),
            "{name} is not in VARIABLES"
        );
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The trimmed value, `None` when unset or blank.
    pub(super) fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub(super) fn invalid(&self, name: &'static str, expected: &'static str) -> SettingsError {
        SettingsError {
            name,
            value: self.get(name).unwrap_or_default().to_owned(),
            expected,
        }
    }

    pub(super) fn parse_optional<T: std::str::FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Option<T>, SettingsError> {
        self.text(name)
            .map(|value| value.parse().map_err(|_| self.invalid(name, expected)))
            .transpose()
    }

    pub(super) fn parse_or<T: std::str::FromStr>(
        &self,
        name: &'static str,
        expected: &'static str,
        default: T,
    ) -> Result<T, SettingsError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|_| self.invalid(name, expected)),
        }
    }

    /// A boolean, spelled one way for every variable: `1`/`true`/`yes` or `0`/`false`/`no`, in any
    /// case; unset or blank is `false`.
    pub(super) fn flag(&self, name: &'static str) -> Result<bool, SettingsError> {
        Ok(self.optional_flag(name)?.unwrap_or(false))
    }

    /// [`RawVars::flag`], with unset or blank as `None`.
    pub(super) fn optional_flag(&self, name: &'static str) -> Result<Option<bool>, SettingsError> {
        match self.text(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(None),
            Some("0" | "false" | "no") => Ok(Some(false)),
            Some("1" | "true" | "yes") => Ok(Some(true)),
            Some(_) => Err(self.invalid(name, "1, true or yes; or 0, false or no")),
        }
    }
}
