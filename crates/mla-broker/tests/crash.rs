//! Crash safety of the real binary, on SQLite and on PostgreSQL: `mla-broker serve` killed with
//! SIGKILL in the middle of concurrent writes, then started again on the same data. Every write it
//! acknowledged is there, `audit verify` is green, and the event feed read from any cursor goes on
//! exactly as the whole feed does.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Scratch, Serving};
use mla_proto::v1 as pb;
use mla_store_postgres::testing::TestDatabase;
use pb::partner_service_client::PartnerServiceClient;
use pb::request_service_client::RequestServiceClient;

/// Concurrent writers, and how long they write before the kill.
const WRITERS: usize = 8;
const WRITING: Duration = Duration::from_millis(1500);

fn call<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request.set_timeout(Duration::from_secs(10));
    request
}

fn request(title: &str) -> pb::Request {
    pb::Request {
        request_type: pb::RequestType::Evidence as i32,
        priority: pb::Priority::Normal as i32,
        requesting_authority: "Tribunal judiciaire de Paris".into(),
        title: title.into(),
        summary_of_facts: "Facts of the case.".into(),
        measures: vec!["Bank records".into()],
        purpose: "Criminal proceedings".into(),
        legal_basis: "UNTOC art. 18".into(),
        ..Default::default()
    }
}

/// What the writers were told: the requests created, and those whose submission was acknowledged.
#[derive(Debug, Default)]
struct Acknowledged {
    created: Vec<String>,
    submitted: Vec<String>,
}

async fn killed_under_writes_loses_nothing(database: Option<&TestDatabase>) {
    let scratch = Scratch::fresh();
    let command = |args: &[&str]| {
        let mut command = scratch.broker(args);
        if let Some(database) = database {
            command.env("MLA_DATABASE_URL", database.url());
        }
        command
    };
    let token = |args: &[&str]| {
        let mut all = vec!["token"];
        all.extend_from_slice(args);
        scratch.run_command(command(&all)).ok().trim().to_owned()
    };
    let first = Serving::start(command(&[]), "info");
    let admin = token(&["--sub", "root", "--role", "admin"]);
    let france = token(&["--sub", "fr-system", "--role", "partner", "--partner", "FR-MOJ"]);
    let partner = pb::Partner {
        code: "FR-MOJ".into(),
        name: "Ministère de la Justice".into(),
        country: "FR".into(),
        kind: pb::PartnerKind::StateAuthority as i32,
        active: true,
        ..Default::default()
    };
    let create = pb::CreatePartnerRequest { partner: Some(partner), ..Default::default() };
    PartnerServiceClient::new(first.channel().await)
        .create_partner(call(create, &admin))
        .await
        .expect("France");

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (client, france, acknowledged) =
            (RequestServiceClient::new(first.channel().await), france.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            let mut client = client;
            for n in 0.. {
                let create = pb::CreateRequestRequest {
                    request: Some(request(&format!("Writer {writer}, request {n}"))),
                    ..Default::default()
                };
                let Ok(created) = client.create_request(call(create, &france)).await else { return };
                let id = created.into_inner().id;
                acknowledged.lock().unwrap().created.push(id.clone());
                let submit = pb::TransitionRequestRequest {
                    id: id.clone(),
                    action: pb::Action::Submit as i32,
                    ..Default::default()
                };
                if client.transition_request(call(submit, &france)).await.is_err() {
                    return;
                }
                acknowledged.lock().unwrap().submitted.push(id);
            }
        }));
    }
    tokio::time::sleep(WRITING).await;
    let mut first = first;
    first.child.kill().expect("SIGKILL");
    first.child.wait().expect("the broker is gone");
    for writer in writers {
        writer.await.expect("a writer ends once the broker is gone");
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(acknowledged.submitted.len() > WRITERS, "the writers wrote: {acknowledged:?}");

    // Started again on the same data: every acknowledged write is there.
    let mut second = Serving::start(command(&[]), "info");
    let mut client = RequestServiceClient::new(second.channel().await);
    for id in &acknowledged.created {
        let found = client.get_request(call(pb::GetRequestRequest { id: id.clone() }, &france)).await;
        let found =
            found.unwrap_or_else(|status| panic!("acknowledged {id} is lost: {status:?}")).into_inner();
        if acknowledged.submitted.contains(id) {
            assert_eq!(found.state, pb::State::Submitted as i32, "the acknowledged submission of {id}");
        }
    }

    // France's feed from any cursor goes on as the whole feed does.
    let feed = |after: i64| {
        let mut client = client.clone();
        let france = france.clone();
        async move {
            let watch = pb::WatchEventsRequest { after_cursor: after.to_string() };
            let mut request = tonic::Request::new(watch);
            request.metadata_mut().insert("authorization", format!("Bearer {france}").parse().unwrap());
            let mut stream = client.watch_events(request).await.expect("a feed").into_inner();
            let mut cursors = Vec::new();
            while let Ok(Ok(Some(event))) =
                tokio::time::timeout(Duration::from_millis(500), stream.message()).await
            {
                cursors.push(event.cursor);
            }
            cursors
        }
    };
    let whole = feed(0).await;
    assert!(
        whole.len() >= acknowledged.created.len() + acknowledged.submitted.len(),
        "{} events",
        whole.len()
    );
    for k in [1, whole.len() / 3, whole.len() / 2, whole.len() - 1] {
        assert_eq!(feed(whole[k - 1]).await, whole[k..], "the feed resumed after cursor {}", whole[k - 1]);
    }
    second.child.kill().expect("stopped");
    second.child.wait().expect("gone");

    let verified = scratch.run_command(command(&["audit", "verify"])).ok();
    assert!(verified.contains(" requests, "), "{verified}");
    println!(
        "crash: {} creations and {} submissions acknowledged before SIGKILL, all present; {} events",
        acknowledged.created.len(),
        acknowledged.submitted.len(),
        whole.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_under_writes_loses_nothing() {
    killed_under_writes_loses_nothing(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_under_writes_loses_nothing() {
    let Some(database) = TestDatabase::create().await else { return };
    killed_under_writes_loses_nothing(Some(&database)).await;
}
