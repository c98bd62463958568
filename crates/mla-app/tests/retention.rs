//! Idempotency keys are forgotten after their retention, by the background sweep, and not before.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use mla_app::{App, AppError, ManualClock, PartnerFields};
use mla_domain::partner::PartnerKind;
use mla_domain::{PartnerCode, Principal, Role, ShortText, Timestamp};
use mla_store_sqlite::SqliteStore;
use tokio_util::sync::CancellationToken;

fn fields(name: &str) -> PartnerFields {
    PartnerFields {
        name: ShortText::parse(name).unwrap(),
        country: "FR".into(),
        kind: PartnerKind::StateAuthority,
        legal_bases: vec![],
        channel: mla_domain::Channel::System,
        active: true,
    }
}

#[tokio::test]
async fn an_idempotency_key_is_forgotten_after_its_retention_and_not_before() {
    let store = Arc::new(SqliteStore::open("sqlite::memory:").await.unwrap());
    let clock = ManualClock::at(Timestamp::from_timestamp(1_772_355_600, 0).unwrap());
    let shutdown = CancellationToken::new();
    let app = App::new(store, Default::default(), shutdown.clone()).with_clock(Arc::new(clock.clone()));
    let admin = Principal::staff("admin", [Role::Admin]).unwrap();
    let code = |c: &str| PartnerCode::parse(c).unwrap();
    let key = Some("0b3f5a4e-partner-key");
    app.create_partner(&admin, code("FR-MOJ"), fields("France"), key).await.unwrap();
    // The same key with another payload: refused while the key is remembered.
    let reuse = || app.create_partner(&admin, code("DE-BJ"), fields("Germany"), key);
    assert!(matches!(reuse().await, Err(AppError::IdempotencyKeyReused { .. })));

    let retention = TimeDelta::days(30);
    clock.advance(TimeDelta::days(29));
    assert_eq!(app.sweep_idempotency_keys(retention).await.unwrap(), 0, "29 days is within the retention");
    assert!(matches!(reuse().await, Err(AppError::IdempotencyKeyReused { .. })));

    // Past the retention, the background sweep forgets the key: the same key now runs anew.
    clock.advance(TimeDelta::days(2));
    let sweeper = app.clone();
    let sweeping =
        tokio::spawn(async move { sweeper.keep_sweeping(retention, Duration::from_millis(10)).await });
    let forgotten = async {
        loop {
            match reuse().await {
                Err(AppError::IdempotencyKeyReused { .. }) => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                other => return other,
            }
        }
    };
    let germany = tokio::time::timeout(Duration::from_secs(10), forgotten).await.expect("swept within 10 s");
    assert_eq!(germany.unwrap().code.as_str(), "DE-BJ");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), sweeping)
        .await
        .expect("the sweep ends on shutdown")
        .unwrap();
}
