//! Mutual TLS, as partners connect in production: the broker serves TLS, demands a client
//! certificate from its CA, and binds a partner's certificate to its partner code, so that a partner
//! token is refused over a connection made with another partner's certificate.

use std::time::Duration;

use mla_domain::Role;
use mla_proto::v1 as pb;
use mla_tests::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// A test PKI: a CA, the server's certificate for `localhost`, and client certificates by name.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "NCIJC test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki { ca, dir: tempfile::tempdir().unwrap() }
    }

    /// A certificate and its key (PEM) for `common_name`, valid for the name `localhost`.
    fn issue(&self, common_name: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, common_name);
        let certificate = params.signed_by(&key, &self.ca).unwrap();
        (certificate.pem(), key.serialize_pem())
    }

    fn write(&self, name: &str, pem: &str) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    }
}

async fn channel(url: &str, pki: &Pki, client: Option<&str>) -> Result<Channel, tonic::transport::Error> {
    let mut tls =
        ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.ca.pem())).domain_name("localhost");
    if let Some(name) = client {
        let (cert, key) = pki.issue(name);
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Channel::from_shared(url.to_owned())
        .unwrap()
        .tls_config(tls)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

#[tokio::test]
async fn a_partner_token_is_honoured_only_over_that_partners_certificate() {
    // The broker, over TLS with client certificates required, booted as `serve` boots it.
    let pki = Pki::new();
    let (server_cert, server_key) = pki.issue("localhost");
    let broker = Broker::sqlite_with(|config| {
        config.tls_cert = Some(pki.write("server.pem", &server_cert));
        config.tls_key = Some(pki.write("server.key", &server_key));
        config.tls_client_ca = Some(pki.write("ca.pem", &pki.ca.pem()));
    })
    .await;
    let url = broker.url.clone();

    // Staff tokens are not bound: an administrator registers France over any valid certificate.
    let admin = broker.staff("admin", &[Role::Admin]);
    let mut partners = pb::partner_service_client::PartnerServiceClient::new(
        channel(&url, &pki, Some("ncijc-staff")).await.unwrap(),
    );
    let france = pb::Partner {
        code: "FR-MOJ".into(),
        name: "Ministère de la Justice".into(),
        country: "FR".into(),
        kind: pb::PartnerKind::StateAuthority as i32,
        active: true,
        ..Default::default()
    };
    partners
        .create_partner(authed(
            pb::CreatePartnerRequest { partner: Some(france), request_id: String::new() },
            &admin,
        ))
        .await
        .expect("TLS works end to end");

    let french_token = broker.partner("FR-MOJ");
    let list = || authed(pb::ListRequestsRequest::default(), &french_token);
    let mut over_french = RequestServiceClient::new(channel(&url, &pki, Some("FR-MOJ")).await.unwrap());
    over_french.list_requests(list()).await.expect("France's token over France's certificate");

    let mut over_german = RequestServiceClient::new(channel(&url, &pki, Some("DE-BJ")).await.unwrap());
    let refused = over_german.list_requests(list()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");

    // Without a client certificate there is no connection to speak of.
    let anonymous = match channel(&url, &pki, None).await {
        Ok(channel) => RequestServiceClient::new(channel).list_requests(list()).await.map(|_| ()).is_err(),
        Err(_) => true,
    };
    assert!(anonymous, "a caller without a client certificate is turned away");

    // Nor is there another door: the REST gateway beside it has no certificate to show, so France's
    // token is refused there, while staff tokens (not bound to certificates) still work.
    let http = http_client();
    let via_gateway =
        http.get(format!("{}/v1/requests", broker.http_url)).bearer_auth(&french_token).send().await;
    assert_eq!(via_gateway.unwrap().status(), reqwest::StatusCode::UNAUTHORIZED);
    let judge = broker.staff("judge-1", &[Role::Judge]);
    let staff = http.get(format!("{}/v1/requests", broker.http_url)).bearer_auth(&judge).send().await;
    assert_eq!(staff.unwrap().status(), reqwest::StatusCode::OK);

    broker.stop().await;
}
