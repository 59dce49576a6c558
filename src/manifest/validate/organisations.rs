//! The organisation rules: valid organisation numbers and names.

use super::Rules;
use crate::diagnostic_code::Code;
use crate::manifest::diagnostics::Diagnostic;
use crate::manifest::model::Grant;
use crate::manifest::orgno::OrgNo;
use crate::manifest::orgno::OrgNoError;
use crate::manifest::yaml::escape_pointer_segment as esc;

/// The diagnostic code and help for an invalid organisation number.
fn orgno_code_and_help(e: &OrgNoError) -> (Code, &'static str) {
    match e {
        OrgNoError::CheckDigit { .. } => (
            Code::OrgnoCheckDigit,
            "check the number for a typo (look it up in Enhetsregisteret, brreg.no): the last digit is a mod-11 check digit over the first eight (weights 3, 2, 7, 6, 5, 4, 3, 2)",
        ),
        OrgNoError::FirstDigit(..) => (
            Code::OrgnoFirstDigit,
            "check the number (look it up in Enhetsregisteret, brreg.no): every Norwegian organisation number starts with 8 or 9",
        ),
        _ => (
            Code::OrgnoFormat,
            "an organisation number is exactly 9 digits, e.g. \"974760673\"",
        ),
    }
}

impl Rules<'_> {
    pub(super) fn organisation_numbers(&mut self) {
        let m = self.m;
        if let Err(e) = m.organization.check() {
            self.bad_organisation_number(&e, "/organization");
        }
        for (i, s) in m.scopes.iter().enumerate() {
            let overridden = s
                .overrides
                .iter()
                .filter_map(|(env, o)| Some((Some(env), o.grants.as_ref()?)));
            for (env, list) in std::iter::once((None, &s.grants)).chain(overridden) {
                for (j, g) in list.iter().enumerate() {
                    let Err(e) = g.org().check() else {
                        continue;
                    };
                    // Pointers are built only here: a large manifest has tens of thousands of
                    // grants, nearly always valid.
                    let base = match env {
                        None => format!("/scopes/{i}/grants/{j}"),
                        Some(env) => format!("/scopes/{i}/overrides/{}/grants/{j}", esc(env)),
                    };
                    let pointer = match g {
                        Grant::Org(_) => base,
                        Grant::Limited(_) => base + "/org",
                    };
                    self.bad_organisation_number(&e, &pointer);
                }
            }
        }
    }

    /// Keys of `organizations` are organisation numbers; their names are not empty.
    pub(super) fn organisation_names(&mut self) {
        let m = self.m;
        for (number, name) in &m.organizations {
            let pointer = format!("/organizations/{}", esc(number));
            if let Err(e) = OrgNo::new_unchecked(number.clone()).check() {
                let (code, help) = orgno_code_and_help(&e);
                self.push_key(
                    Diagnostic::error(code, format!("invalid organisation number: {e}"))
                        .with_help(help),
                    &pointer,
                    "not a valid organisation number",
                );
            }
            if name.trim().is_empty() {
                self.push_value(
                    Diagnostic::error(
                        Code::OrgnoName,
                        format!("organisation {number} has an empty name"),
                    )
                    .with_help("write the organisation's name, e.g. `\"942110464\": Trondheim kommune`, or remove the entry"),
                    &pointer,
                    "empty name",
                );
            }
        }
    }

    pub(super) fn bad_organisation_number(&mut self, e: &OrgNoError, pointer: &str) {
        let (code, help) = orgno_code_and_help(e);
        self.push_value(
            Diagnostic::error(code, format!("invalid organisation number: {e}")).with_help(help),
            pointer,
            "not a valid organisation number",
        );
    }
}
