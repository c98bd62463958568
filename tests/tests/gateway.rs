//! The REST gateway over real HTTP, in front of a broker booted on port 0: a staff lifecycle, every
//! error class as problem+json, ETag/If-Match and Idempotency-Key, the server-sent event feed, the
//! CSV export, the OpenAPI document against the routes served, and the authorization matrix.

use std::collections::BTreeSet;
use std::time::Duration;

use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The gateway of one test broker and the tokens of its parties.
struct Rest {
    base: String,
    http: reqwest::Client,
}

/// One HTTP answer, its body read as JSON when it is JSON.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    fn etag(&self) -> String {
        self.header("etag").to_owned()
    }

    /// Asserts a problem+json answer with this status and reason, and returns its body.
    fn problem(&self, status: u16, reason: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{:#?}", self.body);
        assert!(self.header("content-type").starts_with("application/problem+json"), "{:?}", self.headers);
        assert_eq!(self.body["status"], status, "{:#}", self.body);
        assert_eq!(self.body["reason"], reason, "{:#}", self.body);
        assert!(self.body["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.body["type"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.body["detail"].is_string());
        assert!(self.body["violations"].is_array());
        &self.body
    }
}

impl Rest {
    async fn start(broker: &Broker) -> Rest {
        Rest { base: broker.gateway_url(), http: http_client() }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an HTTP answer");
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = response.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Answer { status, headers, body }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), &[], None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), &[], Some(body)).await
    }

    async fn act(&self, id: &str, token: &str, body: Value) -> Answer {
        self.post(&format!("/v1/requests/{id}/transitions"), token, body).await
    }
}

/// A complete request as JSON, ready to submit.
fn complete(partner_code: &str, title: &str) -> Value {
    json!({
        "partner_code": partner_code,
        "request_type": "EVIDENCE",
        "priority": "NORMAL",
        "requesting_authority": "Investigating judge, Karkh court",
        "title": title,
        "summary_of_facts": "Facts of the case.",
        "offences": ["Money laundering, Law 39/2015 art. 2"],
        "measures": ["Hear witness W-17"],
        "purpose": "Criminal proceedings",
        "legal_basis": "UNTOC art. 18",
        "persons": [{"name": "W-17", "role": "WITNESS", "nationality": "FR", "protected": true}],
    })
}

/// Registers partners through the gateway, as an administrator would from a staff tool.
async fn register(rest: &Rest, broker: &Broker, codes: &[&str]) {
    let admin = broker.staff("admin-1", &[Role::Admin]);
    for code in codes {
        let answer = rest
            .post(
                "/v1/partners",
                &admin,
                json!({
                    "code": code,
                    "name": format!("Central authority {code}"),
                    "country": &code[..2],
                    "kind": "STATE_AUTHORITY",
                    "legal_bases": ["UNTOC art. 18"],
                    "active": true,
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:#}", answer.body);
        assert_eq!(answer.header("location"), format!("/v1/partners/{code}"));
        assert_eq!(answer.etag(), format!("\"{}\"", answer.body["etag"].as_str().unwrap()));
        assert_eq!(answer.body["kind"], "STATE_AUTHORITY");
    }
}

/// A request France created and submitted to Iraq (INCOMING, SUBMITTED), over REST.
async fn submitted_by_france(rest: &Rest, broker: &Broker, title: &str) -> String {
    let france = broker.partner("FR-MOJ");
    let created = rest.post("/v1/requests", &france, complete("", title)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:#}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let submitted = rest.act(&id, &france, json!({"action": "SUBMIT"})).await;
    assert_eq!(submitted.body["state"], "SUBMITTED", "{:#}", submitted.body);
    id
}

#[tokio::test]
async fn staff_take_an_incoming_request_from_draft_to_closed() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["FR-MOJ"]).await;
    let france = broker.partner("FR-MOJ");
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let legal = broker.staff("legal-1", &[Role::LegalOfficer]);
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let evidence = broker.staff("evidence-1", &[Role::EvidenceOfficer]);

    let created = rest.post("/v1/requests", &france, complete("", "Witness W-17")).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.header("location"), format!("/v1/requests/{id}"));
    assert_eq!(created.etag(), format!("\"{}\"", created.body["etag"].as_str().unwrap()));
    let typed: mla_gateway::Request =
        serde_json::from_value(created.body.clone()).expect("the documented shape");
    assert_eq!(typed.state, Some(mla_gateway::State::Draft));
    assert_eq!(typed.direction, Some(mla_gateway::Direction::Incoming));
    assert!(typed.reference.starts_with("IN-"), "{}", typed.reference);
    assert_eq!(typed.partner_code, "FR-MOJ");
    assert_eq!(typed.persons[0].role, Some(mla_gateway::PersonRole::Witness));
    assert!(created.body["create_time"].as_str().unwrap().ends_with('Z'), "RFC 3339 in UTC");
    assert_eq!(created.body["due_time"], Value::Null);
    assert_eq!(created.body["allowed_actions"], json!(["SUBMIT", "WITHDRAW"]));

    let steps = [
        (&france, json!({"action": "SUBMIT"}), "SUBMITTED"),
        (&registrar, json!({"action": "ACKNOWLEDGE"}), "RECEIVED"),
        (&legal, json!({"action": "START_REVIEW"}), "UNDER_REVIEW"),
        (
            &judge,
            json!({"action": "PROPOSE_CONDITIONS", "conditions": [{"kind": "DEATH_PENALTY_NON_IMPOSITION"}, {"kind": "OTHER", "text": "Return the originals"}]}),
            "CONDITIONS_PROPOSED",
        ),
        (&france, json!({"action": "ACCEPT_CONDITIONS"}), "ACCEPTED"),
        (&evidence, json!({"action": "START_EXECUTION"}), "IN_EXECUTION"),
        (&evidence, json!({"action": "COMPLETE_EXECUTION", "outcome": "FULL"}), "EXECUTED"),
        (&france, json!({"action": "CLOSE"}), "CLOSED"),
    ];
    for (token, body, state) in steps {
        let answer = rest.act(&id, token, body.clone()).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}: {:#}", answer.body);
        assert_eq!(answer.body["state"], state);
        assert_eq!(answer.etag(), format!("\"{}\"", answer.body["etag"].as_str().unwrap()));
        if state == "RECEIVED" {
            assert!(answer.body["due_time"].is_string(), "the clock started at acknowledgement");
        }
    }
    let closed = rest.get(&format!("/v1/requests/{id}"), &judge).await;
    assert_eq!(closed.body["state"], "CLOSED");
    assert_eq!(closed.body["conditions"][0]["status"], "ACCEPTED");
    assert_eq!(closed.body["conditions"][0]["given_by"], "FR-MOJ-system");
    assert_eq!(closed.body["conditions"][1]["text"], "Return the originals");
    assert_eq!(closed.body["allowed_actions"], json!([]));

    let events = rest.get(&format!("/v1/requests/{id}/events?page_size=3"), &judge).await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.body["events"].as_array().unwrap().len(), 3);
    let token = events.body["next_page_token"].as_str().unwrap();
    assert!(!token.is_empty());
    let rest_of_them = rest.get(&format!("/v1/requests/{id}/events?page_token={token}"), &judge).await;
    let actions: Vec<_> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest_of_them.body["events"].as_array().unwrap())
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "SUBMIT",
            "ACKNOWLEDGE",
            "START_REVIEW",
            "PROPOSE_CONDITIONS",
            "ACCEPT_CONDITIONS",
            "START_EXECUTION",
            "COMPLETE_EXECUTION",
            "CLOSE"
        ]
    );
    let first = &events.body["events"][0];
    assert_eq!(first["to_state"], "SUBMITTED");
    assert!(first["details"].is_object(), "details are a JSON object, not text: {first:#}");
    assert_eq!(first["actor"]["partner_code"], "FR-MOJ");
    broker.stop().await;
}

#[tokio::test]
async fn every_error_class_is_a_problem_with_its_status() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let auditor = broker.staff("auditor-1", &[Role::Auditor]);
    let admin = broker.staff("admin-1", &[Role::Admin]);

    // 400: an enum name the contract does not have, named by its JSON path, before any call.
    let bad =
        rest.post("/v1/requests", &judge, json!({"partner_code": "FR-MOJ", "request_type": "GOSSIP"})).await;
    let problem = bad.problem(400, "INVALID_FIELDS");
    assert_eq!(problem["violations"][0]["field"], "request_type");
    assert!(problem["violations"][0]["description"].as_str().unwrap().contains("GOSSIP"));
    assert_eq!(problem["domain"], "mla.ncijc.iq");
    assert_eq!(problem["instance"], "/v1/requests");
    let nested = rest
        .post(
            "/v1/requests",
            &judge,
            json!({"partner_code": "FR-MOJ", "persons": [{"name": "X", "role": "BYSTANDER"}]}),
        )
        .await;
    assert_eq!(nested.problem(400, "INVALID_FIELDS")["violations"][0]["field"], "persons[0].role");
    // 400 from the broker: its field violations, with paths into the JSON body.
    let broker_side =
        rest.post("/v1/requests", &judge, json!({"partner_code": "not a code!", "title": "x"})).await;
    let problem = broker_side.problem(400, "INVALID_FIELDS");
    assert!(
        problem["violations"].as_array().unwrap().iter().any(|v| v["field"] == "partner_code"),
        "{problem:#}"
    );
    let unknown_member =
        rest.post("/v1/requests", &judge, json!({"partner_code": "FR-MOJ", "tittle": "typo"})).await;
    assert_eq!(unknown_member.problem(400, "INVALID_FIELDS")["violations"][0]["field"], "tittle");
    let bad_filter = rest.get("/v1/requests?state=LIMBO&overdue=maybe", &judge).await;
    let fields: BTreeSet<_> = bad_filter.problem(400, "INVALID_FIELDS")["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, BTreeSet::from(["overdue".to_owned(), "state".to_owned()]));

    // 401: no token, and a bad one, each with a Bearer challenge.
    let missing = rest.call(Method::GET, "/v1/requests", None, &[], None).await;
    missing.problem(401, "");
    assert!(missing.header("www-authenticate").starts_with("Bearer"), "{:?}", missing.headers);
    let forged = rest.get("/v1/requests", "a.b.c").await;
    forged.problem(401, "");
    assert!(forged.header("www-authenticate").starts_with("Bearer"));
    // Without a token, nothing else about a call is looked at: not its body, not its headers.
    let anonymous_create =
        rest.call(Method::POST, "/v1/requests", None, &[], Some(json!({"due_time": ""}))).await;
    anonymous_create.problem(401, "");
    let anonymous_upload = rest
        .call(
            Method::PATCH,
            &format!("/v1/uploads/{}", uuid::Uuid::nil()),
            None,
            &[("tus-resumable", "0.1")],
            None,
        )
        .await;
    anonymous_upload.problem(401, "");

    // 403: an auditor is read-only.
    let id = submitted_by_france(&rest, &broker, "Errors").await;
    let denied = rest.act(&id, &auditor, json!({"action": "ACKNOWLEDGE"})).await;
    denied.problem(403, "MISSING_ROLE");

    // 404: a request that does not exist, and a route that does not either.
    let nowhere = rest.get("/v1/requests/0192f0c1-7a3e-7cc0-8000-000000000001", &judge).await;
    nowhere.problem(404, "REQUEST_NOT_FOUND");
    let no_route = rest.get("/v1/nothing-here", &judge).await;
    no_route.problem(404, "");
    let no_partner = rest.get("/v1/partners/XX-NONE", &judge).await;
    no_partner.problem(404, "PARTNER_NOT_FOUND");

    // 409: a partner code already in use.
    let again = rest
        .post("/v1/partners", &admin, json!({"code": "FR-MOJ", "name": "Again", "kind": "STATE_AUTHORITY"}))
        .await;
    again.problem(409, "ALREADY_EXISTS");

    // 412: a stale If-Match changes nothing.
    let draft = rest.post("/v1/requests", &judge, complete("FR-MOJ", "Original title")).await;
    let draft_id = draft.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/requests/{draft_id}");
    let renamed = rest
        .call(
            Method::PATCH,
            &path,
            Some(&judge),
            &[("if-match", &draft.etag())],
            Some(json!({"title": "Renamed"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{:#}", renamed.body);
    assert_ne!(renamed.etag(), draft.etag());
    let stale = rest
        .call(
            Method::PATCH,
            &path,
            Some(&judge),
            &[("if-match", &draft.etag())],
            Some(json!({"title": "Lost update"})),
        )
        .await;
    let problem = stale.problem(412, "ETAG_MISMATCH");
    assert_eq!(format!("\"{}\"", problem["metadata"]["current_etag"].as_str().unwrap()), renamed.etag());
    let stale_action = rest
        .call(
            Method::POST,
            &format!("{path}/transitions"),
            Some(&judge),
            &[("if-match", &draft.etag())],
            Some(json!({"action": "SUBMIT"})),
        )
        .await;
    stale_action.problem(412, "ETAG_MISMATCH");
    let unchanged = rest.get(&path, &judge).await;
    assert_eq!(unchanged.body["title"], "Renamed");
    assert_eq!(unchanged.body["state"], "DRAFT");
    assert_eq!(unchanged.etag(), renamed.etag());

    // 400 FAILED_PRECONDITION: refusing on a curable ground without consultation.
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    rest.act(&id, &registrar, json!({"action": "ACKNOWLEDGE"})).await;
    rest.act(&id, &judge, json!({"action": "START_REVIEW"})).await;
    let refuse = json!({"action": "REFUSE", "reason": "Risk of the death penalty", "refusal_grounds": ["DEATH_PENALTY_RISK"]});
    rest.act(&id, &judge, refuse.clone()).await.problem(400, "CONSULTATION_REQUIRED");
    rest.act(&id, &judge, json!({"action": "CLOSE"})).await.problem(400, "ILLEGAL_TRANSITION");
    let waived = json!({"action": "REFUSE", "reason": "Risk of the death penalty", "refusal_grounds": ["DEATH_PENALTY_RISK"], "consultation_waived_reason": "The law of the requesting state mandates it"});
    assert_eq!(rest.act(&id, &judge, waived).await.body["state"], "REFUSED");

    // HTTP's own errors are problems too: wrong media type, too large, wrong method, bad headers.
    let text =
        rest.call(Method::POST, "/v1/requests", Some(&judge), &[("content-type", "text/plain")], None).await;
    text.problem(415, "");
    let huge = json!({"partner_code": "FR-MOJ", "summary_of_facts": "x".repeat(2 * 1024 * 1024)});
    rest.post("/v1/requests", &judge, huge).await.problem(413, "");
    let method = rest.call(Method::DELETE, "/v1/requests", Some(&judge), &[], None).await;
    method.problem(405, "");
    assert!(method.header("allow").contains("GET"), "{:?}", method.headers);
    let weak =
        rest.call(Method::PATCH, &path, Some(&judge), &[("if-match", "W/\"1\"")], Some(json!({}))).await;
    assert_eq!(weak.problem(400, "INVALID_FIELDS")["violations"][0]["field"], "If-Match");
    let unknown_action = rest.act(&id, &judge, json!({"action": "APPEAL"})).await;
    assert_eq!(unknown_action.problem(400, "INVALID_FIELDS")["violations"][0]["field"], "action");
    let bad_condition = rest
        .act(&id, &judge, json!({"action": "PROPOSE_CONDITIONS", "conditions": [{"kind": "NICE"}]}))
        .await;
    assert_eq!(bad_condition.problem(400, "INVALID_FIELDS")["violations"][0]["field"], "conditions[0].kind");
    broker.stop().await;
}

#[tokio::test]
async fn etags_guard_changes_and_idempotency_keys_replay() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let supervisor = broker.staff("supervisor-1", &[Role::Supervisor]);

    let key = [("idempotency-key", "0192f0c1-7a3e-7cc0-8000-00000000beef")];
    let body = complete("FR-MOJ", "Created once");
    let first = rest.call(Method::POST, "/v1/requests", Some(&judge), &key, Some(body.clone())).await;
    let second = rest.call(Method::POST, "/v1/requests", Some(&judge), &key, Some(body)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.body["id"], first.body["id"], "the retry returns the first request");
    assert_eq!(second.header("location"), first.header("location"));
    let listed = rest.get("/v1/requests?query=Created%20once", &judge).await;
    assert_eq!(listed.body["requests"].as_array().unwrap().len(), 1, "one request, not two");
    let other_payload = rest
        .call(Method::POST, "/v1/requests", Some(&judge), &key, Some(complete("FR-MOJ", "Something else")))
        .await;
    let problem = other_payload.problem(400, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(problem["violations"][0]["field"], "Idempotency-Key");

    let id = first.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/requests/{id}");
    let got = rest.get(&path, &judge).await;
    assert_eq!(got.etag(), first.etag(), "GET answers the same ETag as the create");
    // `*` is no check; the current etag passes; the action replays under its key.
    let star = rest
        .call(
            Method::PATCH,
            &path,
            Some(&judge),
            &[("if-match", "*")],
            Some(json!({"summary_of_facts": "More facts."})),
        )
        .await;
    assert_eq!(star.status, StatusCode::OK, "{:#}", star.body);
    assert_eq!(star.body["summary_of_facts"], "More facts.");
    assert_eq!(star.body["title"], "Created once", "only the members present change");
    let submit_key = [("if-match", star.etag()), ("idempotency-key", "submit-1".to_owned())];
    let submit_key: Vec<(&str, &str)> = submit_key.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let submitted = rest
        .call(
            Method::POST,
            &format!("{path}/transitions"),
            Some(&judge),
            &submit_key,
            Some(json!({"action": "SUBMIT"})),
        )
        .await;
    assert_eq!(submitted.body["state"], "SUBMITTED", "{:#}", submitted.body);
    let replayed = rest
        .call(
            Method::POST,
            &format!("{path}/transitions"),
            Some(&judge),
            &submit_key,
            Some(json!({"action": "SUBMIT"})),
        )
        .await;
    assert_eq!(replayed.status, StatusCode::OK, "the retry replays the first outcome: {:#}", replayed.body);
    assert_eq!(replayed.etag(), submitted.etag());

    // A supervisor moves the deadline with a reason: `reason` travels beside the mask, not in it.
    let france = broker.partner("FR-MOJ");
    rest.act(&id, &france, json!({"action": "ACKNOWLEDGE"})).await;
    let due = "2031-01-02T03:04:05Z";
    let moved = rest
        .call(
            Method::PATCH,
            &path,
            Some(&supervisor),
            &[],
            Some(json!({"due_time": due, "reason": "Complex case"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{:#}", moved.body);
    assert_eq!(moved.body["due_time"], due);
    let events = rest.get(&format!("{path}/events"), &supervisor).await;
    let last = events.body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "UPDATE");
    assert!(last["details"].to_string().contains("Complex case"), "{last:#}");
    // An assignee change by a registrar, with no If-Match at all.
    let registrar = broker.staff("registrar-1", &[Role::Registrar]);
    let assigned =
        rest.call(Method::PATCH, &path, Some(&registrar), &[], Some(json!({"assignee": "legal-7"}))).await;
    assert_eq!(assigned.body["assignee"], "legal-7", "{:#}", assigned.body);
    broker.stop().await;
}

/// One server-sent event: its id and its data.
#[derive(Debug)]
struct Sse {
    id: String,
    event: String,
    data: Value,
}

/// Reads SSE frames from a response, skipping keep-alive comments.
struct Feed {
    response: reqwest::Response,
    buffer: String,
}

impl Feed {
    async fn open(rest: &Rest, token: &str, query: &str, last_event_id: Option<&str>) -> Feed {
        let mut request = rest.http.get(format!("{}/v1/events{query}", rest.base)).bearer_auth(token);
        request = request.header("accept-encoding", "gzip");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("a feed");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert!(response.headers().get("content-encoding").is_none(), "a feed is never compressed");
        Feed { response, buffer: String::new() }
    }

    async fn next(&mut self) -> Sse {
        let read = async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let frame: String = self.buffer.drain(..end + 2).collect();
                    let mut sse = Sse { id: String::new(), event: String::new(), data: Value::Null };
                    for line in frame.lines() {
                        if let Some(id) = line.strip_prefix("id:") {
                            sse.id = id.trim().to_owned();
                        } else if let Some(data) = line.strip_prefix("data:") {
                            sse.data = serde_json::from_str(data.trim()).expect("JSON data");
                        } else if let Some(event) = line.strip_prefix("event:") {
                            sse.event = event.trim().to_owned();
                        }
                    }
                    if sse.data.is_null() {
                        continue; // a keep-alive comment
                    }
                    return sse;
                }
                let chunk = self.response.chunk().await.expect("a chunk").expect("the feed stays open");
                self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read).await.expect("an event within 10 s")
    }
}

#[tokio::test]
async fn the_event_feed_streams_live_and_resumes_from_the_last_event_id() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["DE-BJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let auditor = broker.staff("auditor-1", &[Role::Auditor]);
    let created = rest.post("/v1/requests", &judge, complete("DE-BJ", "Bank records")).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    rest.act(&id, &judge, json!({"action": "SUBMIT"})).await;

    let mut feed = Feed::open(&rest, &auditor, "", None).await;
    let create = feed.next().await;
    let submit = feed.next().await;
    assert_eq!(
        (create.data["action"].as_str(), submit.data["action"].as_str()),
        (Some("CREATE"), Some("SUBMIT"))
    );
    assert_eq!(create.data["request_id"], id);
    assert_eq!(create.id, create.data["cursor"].to_string(), "the SSE id is the event's cursor");
    assert!(submit.data["cursor"].as_i64() > create.data["cursor"].as_i64());
    assert_eq!(create.event, "", "events are plain messages, for EventSource.onmessage");
    // Live: a change made while the feed is open arrives on it.
    let withdraw = json!({"action": "WITHDRAW", "reason": "The suspect was arrested in Iraq"});
    rest.act(&id, &judge, withdraw).await;
    let live = feed.next().await;
    assert_eq!(live.data["action"], "WITHDRAW");
    drop(feed);

    // Resume after the CREATE: the next event is the SUBMIT, then the WITHDRAW.
    let mut resumed = Feed::open(&rest, &auditor, "", Some(&create.id)).await;
    assert_eq!(resumed.next().await.id, submit.id);
    assert_eq!(resumed.next().await.id, live.id);
    drop(resumed);
    // `after` wins over Last-Event-ID.
    let mut after = Feed::open(&rest, &auditor, &format!("?after={}", submit.id), Some(&create.id)).await;
    assert_eq!(after.next().await.id, live.id);
    drop(after);

    // A refused feed is a plain HTTP problem, not a stream.
    let refused = rest.call(Method::GET, "/v1/events", None, &[], None).await;
    refused.problem(401, "");
    let bad_cursor = rest.get("/v1/events?after=yesterday", &auditor).await;
    assert_eq!(bad_cursor.problem(400, "INVALID_FIELDS")["violations"][0]["field"], "after");
    broker.stop().await;
}

#[tokio::test]
async fn the_csv_export_streams_every_page_with_hostile_cells_defused() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let hostile = "=HYPERLINK(\"http://evil.example\", \"click, here\")";
    for title in ["Plain title", hostile, "-2+3"] {
        let answer = rest.post("/v1/requests", &judge, complete("FR-MOJ", title)).await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }

    // One request per page: the export must follow the page tokens to the end.
    let export = rest.get("/v1/requests.csv?page_size=1&direction=OUTGOING", &judge).await;
    assert_eq!(export.status, StatusCode::OK);
    assert_eq!(export.header("content-type"), "text/csv; charset=utf-8");
    assert!(export.header("content-disposition").starts_with("attachment"));
    let text = export.body.as_str().expect("CSV text").to_owned();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,reference,direction,partner_code,state,request_type,priority,title,assignee,due_time,overdue,create_time,update_time,received_time,close_time"
    );
    assert_eq!(lines.len(), 4, "a header and three rows: {text}");
    assert!(
        text.contains(r#""'=HYPERLINK(""http://evil.example"", ""click, here"")""#),
        "quoted, doubled quotes, and defused with a leading quote: {text}"
    );
    assert!(text.contains(",'-2+3,"), "{text}");
    assert!(text.contains(",Plain title,"), "{text}");
    assert!(lines[1].contains(",OUTGOING,FR-MOJ,DRAFT,EVIDENCE,NORMAL,"), "{}", lines[1]);
    assert!(lines[1].contains(",false,"), "{}", lines[1]);

    // The same export by content negotiation, and the same filters.
    let negotiated = rest
        .call(Method::GET, "/v1/requests?query=Plain", Some(&judge), &[("accept", "text/csv")], None)
        .await;
    assert_eq!(negotiated.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(negotiated.body.as_str().unwrap().split("\r\n").filter(|l| !l.is_empty()).count(), 2);
    let json_still = rest
        .call(Method::GET, "/v1/requests", Some(&judge), &[("accept", "application/json, text/csv")], None)
        .await;
    assert_eq!(json_still.header("content-type"), "application/json");
    // A refused export is a problem, not a file.
    rest.call(Method::GET, "/v1/requests.csv", None, &[], None).await.problem(401, "");
    broker.stop().await;
}

/// Every operation the gateway documents, and so serves (the router and the document are made from
/// one list in `mla_gateway`, so a route cannot be served undocumented).
const OPERATIONS: [(&str, &str); 35] = [
    ("get", "/docs"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/readyz"),
    ("get", "/v1/events"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/partners"),
    ("post", "/v1/partners"),
    ("get", "/v1/partners/{code}"),
    ("patch", "/v1/partners/{code}"),
    ("get", "/v1/requests"),
    ("post", "/v1/requests"),
    ("get", "/v1/requests.csv"),
    ("get", "/v1/requests/{id}"),
    ("patch", "/v1/requests/{id}"),
    ("get", "/v1/requests/{id}/events"),
    ("post", "/v1/requests/{id}/transitions"),
    ("get", "/v1/requests/{id}/messages"),
    ("post", "/v1/requests/{id}/messages"),
    ("post", "/v1/requests/{id}/messages:read"),
    ("get", "/v1/requests/{id}/letter"),
    ("post", "/v1/requests/{id}/erasures"),
    ("get", "/v1/statistics"),
    ("get", "/v1/reports/human-rights"),
    ("get", "/v1/requests/{id}/documents"),
    ("post", "/v1/requests/{id}/documents"),
    ("post", "/v1/requests/{id}/documents:release"),
    ("get", "/v1/documents/{id}"),
    ("get", "/v1/documents/{id}/content"),
    ("get", "/v1/requests/{id}/evidence-package"),
    ("post", "/v1/requests/{id}/uploads"),
    ("get", "/v1/uploads/{id}"),
    ("patch", "/v1/uploads/{id}"),
    ("delete", "/v1/uploads/{id}"),
    ("get", "/.well-known/jwks.json"),
];

#[tokio::test]
async fn the_openapi_document_matches_the_routes_served() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let id = rest.post("/v1/requests", &judge, complete("FR-MOJ", "Doc")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let doc = rest.call(Method::GET, "/v1/openapi.json", None, &[], None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(
        doc,
        serde_json::to_value(mla_gateway::openapi()).unwrap(),
        "the served document is the library's"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "post", "patch", "put", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), path.clone()));
                assert!(operation["operationId"].is_string(), "{method} {path}");
                if path.starts_with("/v1/") && path != "/v1/openapi.json" {
                    let responses = operation["responses"].as_object().unwrap();
                    for code in ["400", "401", "403", "500", "503"] {
                        assert!(responses.contains_key(code), "{method} {path} documents {code}");
                    }
                }
            }
        }
    }
    let expected: BTreeSet<_> = OPERATIONS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected);
    // Every reference resolves, and the resources have schemas.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/").skip(1) {
        let reference = &piece[..piece.find('"').unwrap()];
        let (kind, name) = reference.split_once('/').unwrap();
        assert!(doc["components"][kind][name].is_object(), "dangling reference {reference}");
    }
    for schema in [
        "Request",
        "NewRequest",
        "RequestPatch",
        "Transition",
        "Event",
        "Partner",
        "Problem",
        "State",
        "Action",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema}");
    }
    assert_eq!(doc["components"]["schemas"]["State"]["enum"][3], "UNDER_REVIEW");

    // Every documented operation answers something other than 404 or 405, with real resources.
    let metadata = pb::DocumentMetadata {
        request_id: id.clone(),
        kind: pb::DocumentKind::LetterOfRequest as i32,
        title: "Letter".into(),
        file_name: "letter.pdf".into(),
        ..Default::default()
    };
    let upload = [
        pb::UploadDocumentRequest {
            part: Some(pb::upload_document_request::Part::Metadata(metadata.clone())),
        },
        pb::UploadDocumentRequest {
            part: Some(pb::upload_document_request::Part::Chunk(b"%PDF-1.7".to_vec())),
        },
    ];
    let start = pb::StartUploadRequest { metadata: Some(metadata.clone()), size_bytes: 8 };
    let mut documents = broker.documents().await;
    let upload = authed(futures::stream::iter(upload), &judge);
    let document = documents.upload_document(upload).await.expect("uploaded").into_inner().id;
    let session = documents.start_upload(authed(start, &judge)).await.expect("started").into_inner().id;
    for (method, path) in OPERATIONS {
        let resource = match path {
            _ if path.starts_with("/v1/documents/") => &document,
            _ if path.starts_with("/v1/uploads/") => &session,
            _ => &id,
        };
        let concrete = path.replace("{id}", resource).replace("{code}", "FR-MOJ");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = (method != Method::GET).then(|| json!({}));
        let mut request =
            rest.http.request(method.clone(), format!("{}{concrete}", rest.base)).bearer_auth(&judge);
        if let Some(body) = body {
            request = request.json(&body);
        }
        // The feed never ends: the status line is all this check needs.
        let status = request.send().await.expect("an answer").status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete} answered {status}"
        );
    }

    // Swagger UI is served from the binary and loads nothing from elsewhere.
    let redirect = rest.call(Method::GET, "/docs", None, &[], None).await;
    assert!(redirect.status.is_redirection());
    let page = rest.call(Method::GET, "/docs/", None, &[], None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"), "no CDN: {html}");
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"] {
        let answer = rest.call(Method::GET, &format!("/docs/{asset}"), None, &[], None).await;
        assert_eq!(answer.status, StatusCode::OK, "{asset}");
    }
    let initializer = rest.call(Method::GET, "/docs/swagger-initializer.js", None, &[], None).await;
    assert!(initializer.body.as_str().unwrap().contains("/v1/openapi.json"));
    broker.stop().await;
}

const OK: u16 = 200;
const NF: u16 = 404;
const PD: u16 = 403;
const CR: u16 = 201;
const IA: u16 = 400;

#[tokio::test]
async fn the_gateway_answers_every_principal_as_the_grpc_api_does() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["FR-MOJ", "DE-BJ"]).await;
    let shared = submitted_by_france(&rest, &broker, "Matrix").await;

    let rows: [(&str, [u16; 9]); 9] = [
        ("GET request", [OK, OK, OK, OK, OK, OK, NF, OK, NF]),
        ("GET statistics", [OK, OK, OK, OK, OK, OK, PD, PD, PD]),
        ("GET human-rights report", [OK, OK, OK, OK, OK, OK, PD, PD, PD]),
        ("GET events", [OK, OK, OK, OK, OK, OK, NF, OK, NF]),
        ("ACKNOWLEDGE", [OK, PD, PD, PD, OK, PD, NF, PD, NF]),
        ("PATCH assignee", [OK, PD, PD, PD, OK, PD, NF, PD, NF]),
        ("POST request to FR-MOJ", [CR, CR, CR, PD, CR, PD, PD, CR, IA]),
        ("POST partner", [PD, PD, PD, PD, PD, PD, CR, PD, PD]),
        ("GET partner", [OK, OK, OK, OK, OK, OK, OK, OK, OK]),
    ];
    for (row, expected) in rows {
        for (who, want) in PRINCIPALS.iter().zip(expected) {
            let t = broker.token_for(who);
            let answer = match row {
                "GET request" => rest.get(&format!("/v1/requests/{shared}"), &t).await,
                "GET events" => rest.get(&format!("/v1/requests/{shared}/events"), &t).await,
                "GET statistics" => {
                    let period = "period_start=2026-01-01T00:00:00Z&period_end=2100-01-01T00:00:00Z";
                    rest.get(&format!("/v1/statistics?{period}"), &t).await
                }
                "GET human-rights report" => {
                    let period = "period_start=2026-01-01T00:00:00Z&period_end=2100-01-01T00:00:00Z";
                    rest.get(&format!("/v1/reports/human-rights?{period}"), &t).await
                }
                "ACKNOWLEDGE" => {
                    let id = submitted_by_france(&rest, &broker, "Matrix").await;
                    rest.act(&id, &t, json!({"action": "ACKNOWLEDGE"})).await
                }
                "PATCH assignee" => {
                    rest.call(
                        Method::PATCH,
                        &format!("/v1/requests/{shared}"),
                        Some(&t),
                        &[],
                        Some(json!({"assignee": "officer-7"})),
                    )
                    .await
                }
                "POST request to FR-MOJ" => rest.post("/v1/requests", &t, complete("FR-MOJ", "x")).await,
                "POST partner" => {
                    let partner = json!({"code": format!("NEW-{}", who.len()), "name": "New", "kind": "INTERNATIONAL_MECHANISM", "active": true});
                    rest.post("/v1/partners", &t, partner).await
                }
                "GET partner" => rest.get("/v1/partners/FR-MOJ", &t).await,
                other => unreachable!("{other}"),
            };
            assert_eq!(answer.status.as_u16(), want, "{row} by {who}: {:#}", answer.body);
            if want >= 400 {
                assert!(answer.header("content-type").starts_with("application/problem+json"));
            }
        }
    }

    // Lists hold only what the caller may see: Germany sees nothing of France's.
    let count = |who: &'static str| {
        let t = broker.token_for(who);
        let rest = &rest;
        async move { rest.get("/v1/requests", &t).await.body["requests"].as_array().unwrap().len() }
    };
    assert!(count("auditor").await > 0);
    assert_eq!(count("DE-BJ").await, 0);
    let filtered = rest.get("/v1/requests?partner_code=FR-MOJ", &broker.token_for("DE-BJ")).await;
    assert_eq!(filtered.body["requests"], json!([]));
    broker.stop().await;
}

#[tokio::test]
async fn probes_request_ids_compression_cors_and_a_remote_upstream() {
    let broker = Broker::sqlite().await;
    let rest = Rest::start(&broker).await;
    register(&rest, &broker, &["FR-MOJ"]).await;
    let judge = broker.staff("judge-1", &[Role::Judge]);

    let live = rest.call(Method::GET, "/healthz", None, &[], None).await;
    assert_eq!((live.status, live.body["status"].as_str()), (StatusCode::OK, Some("SERVING")));
    let ready = rest.call(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!((ready.status, ready.body["status"].as_str()), (StatusCode::OK, Some("SERVING")));

    // x-request-id: kept when given (and forwarded to the broker: see the gateway's unit tests), made
    // when absent.
    let given =
        rest.call(Method::GET, "/v1/partners", Some(&judge), &[("x-request-id", "trace-42")], None).await;
    assert_eq!(given.header("x-request-id"), "trace-42");
    let made = rest.get("/v1/partners", &judge).await;
    assert_eq!(made.header("x-request-id").len(), 36, "a UUID: {:?}", made.headers);
    let failed = rest.call(Method::GET, "/v1/requests", None, &[("x-request-id", "trace-43")], None).await;
    assert_eq!(failed.header("x-request-id"), "trace-43", "errors carry it too");

    // gzip when asked for, on JSON.
    let response = rest
        .http
        .get(format!("{}/v1/partners", rest.base))
        .bearer_auth(&judge)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");

    // CORS is off by default: no browser origin is allowed.
    let preflight = rest
        .call(
            Method::OPTIONS,
            "/v1/requests",
            None,
            &[("origin", "https://tools.ncijc.example"), ("access-control-request-method", "GET")],
            None,
        )
        .await;
    assert!(preflight.headers.get("access-control-allow-origin").is_none());
    // ...and on for the configured origins only.
    let config = mla_gateway::GatewayConfig {
        cors_origins: vec![HeaderValue::from_static("https://tools.ncijc.example")],
        keep_alive: Duration::from_millis(100),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cors_base = format!("http://{}", listener.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let upstream = mla_gateway::upstream_channel(&broker.url, None).unwrap();
    let server =
        tokio::spawn(mla_gateway::serve(listener, mla_gateway::router(upstream, config), async move {
            stopped.cancelled().await
        }));
    let cors = Rest { base: cors_base, http: http_client() };
    for (origin, allowed) in [("https://tools.ncijc.example", true), ("https://elsewhere.example", false)] {
        let answer = cors
            .call(
                Method::OPTIONS,
                "/v1/requests",
                None,
                &[("origin", origin), ("access-control-request-method", "PATCH")],
                None,
            )
            .await;
        assert_eq!(answer.headers.get("access-control-allow-origin").is_some(), allowed, "{origin}");
    }
    // Without a readiness probe of its own, the gateway asks the broker's health service.
    let ready = cors.call(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!(ready.status, StatusCode::OK);
    // An idle feed gets keep-alive comments, so that proxies do not close it.
    let mut idle = cors
        .http
        .get(format!("{}/v1/events?after=999999", cors.base))
        .bearer_auth(&judge)
        .send()
        .await
        .unwrap();
    let comment = tokio::time::timeout(Duration::from_secs(10), idle.chunk()).await.expect("a keep-alive");
    assert!(String::from_utf8_lossy(&comment.unwrap().unwrap()).starts_with(':'));
    // Shutting down ends open feeds, which would otherwise hold the graceful shutdown forever.
    stop.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), server).await;
    stopped.expect("the shutdown does not wait on the open feed").unwrap().expect("a graceful shutdown");
    drop(idle);

    // A gateway in front of the broker's gRPC port, as `mla-broker gateway --upstream` runs it.
    let remote = Rest { base: broker.start_remote_gateway().await, http: http_client() };
    let ready = remote.call(Method::GET, "/readyz", None, &[], None).await;
    assert_eq!(ready.status, StatusCode::OK, "the broker's health service says SERVING");
    let partner = remote.get("/v1/partners/FR-MOJ", &judge).await;
    assert_eq!(partner.status, StatusCode::OK);
    assert_eq!(partner.body["code"], "FR-MOJ");
    remote.call(Method::GET, "/v1/partners", None, &[], None).await.problem(401, "");
    broker.stop().await;
}

/// The OpenAPI document states the domain's rules: its limits are the domain's constants, and its
/// patterns (read by a regex engine, as a client's validator reads them) accept exactly what the
/// domain's parsers accept, on samples chosen at each rule's edges.
#[test]
fn the_openapi_document_states_the_domains_rules() {
    use mla_domain::document::{self, Sha256};
    use mla_domain::{LongText, PartnerCode, ShortText, limits, partner};

    let doc = serde_json::to_value(mla_gateway::openapi()).unwrap();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let number = |name: &str, keyword: &str| schema(name)[keyword].as_u64().map(|n| n as usize);
    assert_eq!(number("ShortText", "maxLength"), Some(ShortText::MAX_CHARS));
    assert_eq!(number("LongText", "maxLength"), Some(LongText::MAX_CHARS));
    assert_eq!(number("RequiredLongText", "maxLength"), Some(LongText::MAX_CHARS));
    assert_eq!(number("ShortTexts", "maxItems"), Some(mla_domain::RequestContent::MAX_ENTRIES));
    assert_eq!(number("Persons", "maxItems"), Some(mla_domain::RequestContent::MAX_ENTRIES));
    assert_eq!(number("AttachmentIds", "maxItems"), Some(mla_domain::correspondence::MAX_ATTACHMENTS));
    assert_eq!(number("FileName", "maxLength"), Some(document::MAX_FILE_NAME_CHARS));
    assert_eq!(number("PartnerCode", "minLength"), Some(limits::PARTNER_CODE_MIN_CHARS));
    assert_eq!(number("PartnerCode", "maxLength"), Some(limits::PARTNER_CODE_MAX_CHARS));
    assert_eq!(number("IdempotencyKey", "maxLength"), Some(limits::MAX_IDEMPOTENCY_KEY_BYTES));
    assert_eq!(number("SearchText", "maxLength"), Some(limits::MAX_QUERY_CHARS));

    // What the schema admits: its pattern, its lengths (in characters) and its enum.
    let admits = |name: &str, value: &str| {
        let s = schema(name);
        let chars = value.chars().count();
        let pattern = s["pattern"].as_str().map(|p| regex::Regex::new(p).expect("a pattern"));
        pattern.is_none_or(|p| p.is_match(value))
            && s["minLength"].as_u64().is_none_or(|n| chars >= n as usize)
            && s["maxLength"].as_u64().is_none_or(|n| chars <= n as usize)
            && s["enum"].as_array().is_none_or(|values| values.iter().any(|v| v == value))
    };
    let check = |name: &str, samples: &[String], parses: &dyn Fn(&str) -> bool| {
        for sample in samples {
            assert_eq!(admits(name, sample), parses(sample), "{name}: {sample:?}");
        }
    };
    let texts: Vec<String> = [
        "",
        "Title",
        " padded ",
        "«الطلب» داواکاری",
        "tab\there",
        "line\nbreak",
        "cr\r",
        "nul\0",
        "bell\u{7}",
        "del\u{7f}",
        "nel\u{85}",
        "c1\u{9f}",
        "nbsp\u{a0}",
        " ",
        "\u{3000}",
        "\u{2028}",
        "\t\n",
        "\u{feff}",
        "emoji 🦀",
    ]
    .into_iter()
    .map(String::from)
    .chain(
        [ShortText::MAX_CHARS, LongText::MAX_CHARS]
            .into_iter()
            .flat_map(|n| ["ع".repeat(n), "x".repeat(n + 1)]),
    )
    .collect();
    check("ShortText", &texts, &|s| ShortText::parse(s).is_ok());
    check("LongText", &texts, &|s| LongText::parse(s).is_ok());
    check("RequiredLongText", &texts, &|s| LongText::parse(s).is_ok_and(|t| !t.is_blank()));
    check("RequiredShortText", &texts, &|s| ShortText::parse(s).is_ok_and(|t| !t.is_blank()));
    let names: Vec<String> =
        texts.iter().cloned().chain([document::MAX_FILE_NAME_CHARS].map(|n| "n".repeat(n + 1))).collect();
    check("FileName", &names, &|s| document::file_name(s).is_ok());

    let codes: Vec<String> = [
        "FR-MOJ",
        "UN-IIIM",
        "DE-BJ2",
        "EUROJUST",
        "A1",
        "",
        "F",
        "fr-moj",
        "FR--MOJ",
        "-FR",
        "FR-",
        "FR MOJ",
        "ФР-МОЙ",
        "FR_MOJ",
    ]
    .into_iter()
    .map(String::from)
    .chain(["A".repeat(limits::PARTNER_CODE_MAX_CHARS), "A".repeat(limits::PARTNER_CODE_MAX_CHARS + 1)])
    .collect();
    check("PartnerCode", &codes, &|s| PartnerCode::parse(s).is_ok());

    let countries: Vec<String> =
        ["", "IQ", "FR", "ZZ", "XK", "iq", "IRQ", "Q"].into_iter().map(String::from).collect();
    check("Country", &countries, &|s| partner::parse_country(s).is_ok());
    let listed = schema("Country")["enum"].as_array().unwrap().clone();
    assert!(listed.iter().all(|c| partner::parse_country(c.as_str().unwrap()).is_ok()));

    let media: Vec<String> = [
        "",
        "application/pdf",
        "text/plain; charset=utf-8",
        "image/svg+xml",
        "application/vnd.ms-excel",
        "pdf",
        "/pdf",
        "text/",
        "text/pl ain",
        "texte/é",
        "a/b;é",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("a/{}", "b".repeat(limits::MAX_MEDIA_TYPE_CHARS))])
    .collect();
    check("MediaType", &media, &|s| document::media_type(s).is_ok());
    let languages: Vec<String> = [
        "",
        "ar",
        "ckb",
        "en-GB",
        "sr-Latn",
        "zh-Hant-TW",
        "a",
        "toolonglang",
        "en-",
        "-en",
        "en_GB",
        "1a",
        "en-abcdefghi",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("en-{}", ["abcdefgh"; 4].join("-"))])
    .collect();
    check("LanguageTag", &languages, &|s| document::language(s).is_ok());
    let digests: Vec<String> =
        ["".into(), "ab".repeat(32), "AB".repeat(32), "ab".repeat(31), "zz".repeat(32), "ab".repeat(33)]
            .to_vec();
    check("Sha256OrEmpty", &digests, &|s| s.is_empty() || Sha256::parse(s).is_ok());
}
