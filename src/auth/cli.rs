//! `dyaspora token create|list|revoke`: the only way tokens come into existence. A new
//! token's text is printed once, on stdout (alone on its line, for scripts); only its
//! digest is stored.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::token::{self, TokenInfo};
use super::Role;
use crate::store::Store;

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub action: TokenAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it (once: only its SHA-256 digest is stored).
    Create {
        /// What the token may do.
        #[arg(long, value_enum)]
        role: Role,
        /// Who or what holds it, for the audit log (e.g. "field team Miami").
        #[arg(long)]
        name: String,
        /// Print id, name, role and token as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their text).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id; it stops working within two seconds.
    Revoke { id: i64 },
}

/// Who runs the command, for the audit log.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_default();
    if user.is_empty() {
        "cli".into()
    } else {
        format!("cli:{user}")
    }
}

/// Runs `dyaspora token …`.
///
/// # Errors
/// Store failures, a bad name, no random source.
pub fn run(store: &dyn Store, args: &TokenArgs) -> anyhow::Result<ExitCode> {
    match &args.action {
        TokenAction::Create { role, name, json } => {
            let (info, secret) = token::issue(store, *role, name, &cli_actor())?;
            if *json {
                println!(
                    "{}",
                    serde_json::json!({ "id": info.id, "name": info.name, "role": info.role, "token": secret })
                );
            } else {
                eprintln!(
                    "Token {} ({}, {:?}) created. It is shown once, below: store it now (only its digest is kept).",
                    info.id, info.role, info.name
                );
                println!("{secret}");
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenAction::List { json } => {
            let tokens = store.tokens()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                print!("{}", render(&tokens));
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenAction::Revoke { id } => {
            if store.revoke_token(*id, &cli_actor())? {
                eprintln!("Token {id} revoked.");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("error: no valid token with id {id}");
                Ok(ExitCode::from(1))
            }
        }
    }
}

fn render(tokens: &[TokenInfo]) -> String {
    let mut out = format!(
        "{:>4}  {:<6}  {:<20}  {:<20}  {}\n",
        "ID", "ROLE", "CREATED", "REVOKED", "NAME"
    );
    for t in tokens {
        out.push_str(&format!(
            "{:>4}  {:<6}  {:<20}  {:<20}  {}\n",
            t.id,
            t.role.as_str(),
            t.created_at.get(..19).unwrap_or(&t.created_at),
            t.revoked_at
                .as_deref()
                .map_or("-", |r| r.get(..19).unwrap_or(r)),
            t.name
        ));
    }
    out
}
