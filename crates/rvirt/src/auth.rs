//! Authentication callbacks (`virConnectOpenAuth`).
//!
//! The caller says which credential types it can answer and supplies a callback. When a driver
//! needs credentials (test-driver `<auth>`, SASL, SSH passphrases) it builds [`Credential`]s and
//! calls [`ask`]. The founding rule (libvirt bz2181235): a callback that reports success but leaves
//! a requested credential without a result is a failure with `VIR_ERR_AUTH_FAILED` naming the
//! credential — never an unset error, never a fallback to an empty password. An empty string is a
//! real answer (libvirt's default callback returns "" on EOF).

use crate::error::{code, domain, Error, Result};

/// `virConnectCredentialType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum CredentialType {
    /// Identity to act as.
    Username = 1,
    /// Identity to authorize as.
    Authname = 2,
    /// RFC 1766 languages.
    Language = 3,
    /// Client nonce.
    Cnonce = 4,
    /// Passphrase secret.
    Passphrase = 5,
    /// Challenge response, echoed.
    EchoPrompt = 6,
    /// Challenge response, not echoed.
    NoEchoPrompt = 7,
    /// Authentication realm.
    Realm = 8,
    /// Externally managed credential.
    External = 9,
}

impl CredentialType {
    /// The word libvirt's messages use for this credential ("Username", "Password", …).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Username | Self::Authname => "Username",
            Self::Passphrase | Self::NoEchoPrompt => "Password",
            Self::EchoPrompt => "Challenge response",
            Self::Language => "Language",
            Self::Cnonce => "Client nonce",
            Self::Realm => "Realm",
            Self::External => "External credential",
        }
    }
}

/// One credential to collect (`virConnectCredential`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// What is asked for.
    pub type_: CredentialType,
    /// Prompt to show the user.
    pub prompt: String,
    /// Extra challenge text, if any.
    pub challenge: Option<String>,
    /// Suggested answer, if any.
    pub default: Option<String>,
    /// The answer. The callback must set it for every credential when it returns `Ok`.
    pub result: Option<String>,
}

impl Credential {
    /// A credential request with a prompt and no challenge or default.
    pub fn new(type_: CredentialType, prompt: impl Into<String>) -> Self {
        Self {
            type_,
            prompt: prompt.into(),
            challenge: None,
            default: None,
            result: None,
        }
    }
}

/// The callback type: fill in every credential's `result` and return `Ok(())`, or return `Err(())`
/// to refuse.
pub type AuthCallback = dyn Fn(&mut [Credential]) -> std::result::Result<(), ()> + Send + Sync;

/// `virConnectAuth`: the credential types the caller can answer, and the callback.
pub struct Auth {
    /// Types the callback can answer.
    pub cred_types: Vec<CredentialType>,
    /// The callback.
    pub callback: Box<AuthCallback>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("cred_types", &self.cred_types)
            .finish_non_exhaustive()
    }
}

/// Asks `auth` for `creds`, enforcing that the callback answered each one.
pub fn ask(auth: Option<&Auth>, creds: &mut [Credential]) -> Result<()> {
    let Some(auth) = auth else {
        return Err(Error::new(
            code::INVALID_ARG,
            domain::AUTH,
            "Missing authentication credentials",
        ));
    };
    for c in creds.iter() {
        if !auth.cred_types.contains(&c.type_) {
            return Err(Error::new(
                code::AUTH_FAILED,
                domain::AUTH,
                format!("Missing {:?} credential type", c.type_),
            ));
        }
    }
    let refused = (auth.callback)(creds).is_err();
    for c in creds.iter_mut() {
        if refused || c.result.is_none() {
            c.result = None;
            return Err(Error::new(
                code::AUTH_FAILED,
                domain::AUTH,
                format!("{} request failed", c.type_.describe()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(
        cb: impl Fn(&mut [Credential]) -> std::result::Result<(), ()> + Send + Sync + 'static,
    ) -> Auth {
        Auth {
            cred_types: vec![CredentialType::Authname, CredentialType::Passphrase],
            callback: Box::new(cb),
        }
    }

    #[test]
    fn success_without_result_is_auth_failed() {
        let a = auth(|_| Ok(()));
        let mut c = [Credential::new(CredentialType::Authname, "user:")];
        let e = ask(Some(&a), &mut c).unwrap_err();
        assert_eq!(e.code, code::AUTH_FAILED);
        assert_eq!(e.message, "authentication failed: Username request failed");
    }

    #[test]
    fn partial_answer_names_the_missing_credential() {
        let a = auth(|c| {
            c[0].result = Some("alice".into());
            Ok(())
        });
        let mut c = [
            Credential::new(CredentialType::Authname, "user:"),
            Credential::new(CredentialType::Passphrase, "password:"),
        ];
        let e = ask(Some(&a), &mut c).unwrap_err();
        assert_eq!(e.message, "authentication failed: Password request failed");
    }

    #[test]
    fn empty_string_is_an_answer_and_refusal_fails() {
        let a = auth(|c| {
            for x in c.iter_mut() {
                x.result = Some(String::new());
            }
            Ok(())
        });
        let mut c = [Credential::new(CredentialType::Passphrase, "pw")];
        ask(Some(&a), &mut c).unwrap();
        let r = auth(|_| Err(()));
        assert_eq!(ask(Some(&r), &mut c).unwrap_err().code, code::AUTH_FAILED);
        assert_eq!(ask(None, &mut c).unwrap_err().code, code::INVALID_ARG);
    }

    #[test]
    fn unsupported_type_is_refused_before_calling() {
        let a = Auth {
            cred_types: vec![CredentialType::Authname],
            callback: Box::new(|_| panic!("must not be called")),
        };
        let mut c = [Credential::new(CredentialType::Passphrase, "pw")];
        assert_eq!(ask(Some(&a), &mut c).unwrap_err().code, code::AUTH_FAILED);
    }
}
