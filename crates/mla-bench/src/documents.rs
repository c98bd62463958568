//! Documents' throughput and the broker's memory while they stream: one large file uploaded and
//! downloaded over gRPC and over REST, on a broker in a process of its own ([`BrokerProcess`]), each
//! beside the disk's own sequential speed measured in the same run with `dd` (`conv=fsync` for the
//! write; the read after dropping the page cache where the kernel allows it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use mla_proto::v1 as pb;
use mla_proto::v1::document_service_client::DocumentServiceClient;
use mla_tests::authed;
use tonic::transport::Channel;

use crate::process::BrokerProcess;
use crate::workloads::Target;

/// The size of each piece a client sends.
const CHUNK: usize = 1024 * 1024;

/// One transfer: its throughput and the broker's resident set above idle at its peak.
#[derive(Debug)]
pub struct Transfer {
    pub name: &'static str,
    pub mib_per_second: f64,
    pub bound_mib_per_second: f64,
    pub peak_above_idle_mib: f64,
}

/// The file's bytes, made once: a pattern that does not compress, so no layer can shortcut it.
fn chunk() -> Bytes {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..CHUNK)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    Bytes::from(bytes)
}

/// Measures uploads and downloads of `mib` MiB on `backend` (`sqlite` or `postgres`).
pub async fn measure(backend: &str, mib: usize) -> anyhow::Result<Vec<Transfer>> {
    let (disk_write, disk_read) = disk_speed(mib)?;
    let broker = BrokerProcess::spawn(backend).await?;
    let target = Target::remote(broker.endpoints.clone()).await;
    let request_id = target.submitted(1).await.remove(0);
    let chunks = mib * 1024 * 1024 / CHUNK;
    let documents = DocumentServiceClient::new(target.channel.clone())
        .max_decoding_message_size(16 * 1024 * 1024)
        .max_encoding_message_size(16 * 1024 * 1024);
    let partner = broker.endpoints.partner.clone();
    let registrar = broker.endpoints.registrar.clone();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = broker.rss_mib()?;
    let whole = (chunks * CHUNK) as u64;

    let grpc_upload =
        watching(&broker, upload_over_grpc(documents.clone(), &partner, &request_id, chunks)).await?;
    drop_page_cache();
    let grpc_download =
        watching(&broker, download_over_grpc(documents, &registrar, &grpc_upload.outcome)).await?;
    anyhow::ensure!(grpc_download.outcome == whole, "the gRPC download is whole");

    let gateway = target.gateway.clone();
    let rest_upload = watching(&broker, upload_over_rest(&gateway, &partner, &request_id, chunks)).await?;
    drop_page_cache();
    let rest_download =
        watching(&broker, download_over_rest(&gateway, &registrar, &rest_upload.outcome)).await?;
    anyhow::ensure!(rest_download.outcome == whole, "the REST download is whole");

    broker.stop().await?;
    Ok(vec![
        grpc_upload.transfer("upload, gRPC", mib, disk_write, idle),
        grpc_download.transfer("download, gRPC", mib, disk_read, idle),
        rest_upload.transfer("upload, REST", mib, disk_write, idle),
        rest_download.transfer("download, REST", mib, disk_read, idle),
    ])
}

/// What a piece of work came to, with how long it took and the broker's largest resident set meanwhile.
struct Watched<T> {
    outcome: T,
    elapsed: Duration,
    peak_mib: f64,
}

impl<T> Watched<T> {
    /// The work as a transfer of `mib` MiB beside the disk's `bound`, the broker `idle_mib` at rest.
    fn transfer(&self, name: &'static str, mib: usize, bound: f64, idle_mib: f64) -> Transfer {
        Transfer {
            name,
            mib_per_second: mib as f64 / self.elapsed.as_secs_f64(),
            bound_mib_per_second: bound,
            peak_above_idle_mib: self.peak_mib - idle_mib,
        }
    }
}

/// Runs `work`, sampling the broker's resident set every 50 ms meanwhile.
async fn watching<T>(
    broker: &BrokerProcess,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<Watched<T>> {
    let done = AtomicBool::new(false);
    let sampling = async {
        let mut peak = 0f64;
        while !done.load(Ordering::SeqCst) {
            peak = peak.max(broker.rss_mib().unwrap_or(0.0));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        peak
    };
    let working = async {
        let started = Instant::now();
        let outcome = work.await;
        done.store(true, Ordering::SeqCst);
        (outcome, started.elapsed())
    };
    let ((outcome, elapsed), peak_mib) = futures::join!(working, sampling);
    Ok(Watched { outcome: outcome?, elapsed, peak_mib })
}

async fn upload_over_grpc(
    mut client: DocumentServiceClient<Channel>,
    token: &str,
    request_id: &str,
    chunks: usize,
) -> anyhow::Result<String> {
    let metadata = pb::DocumentMetadata {
        request_id: request_id.to_owned(),
        kind: pb::DocumentKind::SupportingDocument as i32,
        title: "Phone extraction".into(),
        file_name: "extraction.bin".into(),
        media_type: "application/octet-stream".into(),
        ..Default::default()
    };
    let piece = chunk();
    let parts = futures::stream::iter(
        std::iter::once(pb::upload_document_request::Part::Metadata(metadata))
            .chain((0..chunks).map(move |_| pb::upload_document_request::Part::Chunk(piece.to_vec()))),
    )
    .map(|part| pb::UploadDocumentRequest { part: Some(part) });
    Ok(client.upload_document(authed(parts, token)).await?.into_inner().id)
}

async fn download_over_grpc(
    mut client: DocumentServiceClient<Channel>,
    token: &str,
    id: &str,
) -> anyhow::Result<u64> {
    let call = authed(pb::DownloadDocumentRequest { id: id.to_owned(), offset: 0 }, token);
    let mut stream = client.download_document(call).await?.into_inner();
    let mut received = 0;
    while let Some(message) = stream.message().await? {
        received += message.chunk.len() as u64;
    }
    Ok(received)
}

async fn upload_over_rest(
    base: &str,
    token: &str,
    request_id: &str,
    chunks: usize,
) -> anyhow::Result<String> {
    let boundary = "mla-bench-boundary-7e1f";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n\
         {{\"kind\":\"SUPPORTING_DOCUMENT\",\"title\":\"Phone extraction\"}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"extraction.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let piece = chunk();
    let body = futures::stream::iter(
        std::iter::once(Bytes::from(head))
            .chain((0..chunks).map(move |_| piece.clone()))
            .chain(std::iter::once(Bytes::from(tail))),
    )
    .map(Ok::<_, std::io::Error>);
    let answer = reqwest::Client::new()
        .post(format!("{base}/v1/requests/{request_id}/documents"))
        .bearer_auth(token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await?;
    anyhow::ensure!(answer.status().is_success(), "the REST upload answered {}", answer.status());
    let document: serde_json::Value = answer.json().await?;
    Ok(document["id"].as_str().context("the document's id")?.to_owned())
}

async fn download_over_rest(base: &str, token: &str, id: &str) -> anyhow::Result<u64> {
    let answer = reqwest::Client::new()
        .get(format!("{base}/v1/documents/{id}/content"))
        .bearer_auth(token)
        .send()
        .await?;
    anyhow::ensure!(answer.status().is_success(), "the REST download answered {}", answer.status());
    let mut body = answer.bytes_stream();
    let mut received = 0;
    while let Some(piece) = body.next().await {
        received += piece?.len() as u64;
    }
    Ok(received)
}

/// The disk's sequential write (`dd conv=fsync`) and read speeds in MiB/s, for `mib` MiB in the
/// temporary directory.
fn disk_speed(mib: usize) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("dd.bin");
    let write = dd(&[
        "if=/dev/zero",
        &format!("of={}", file.display()),
        "bs=1M",
        &format!("count={mib}"),
        "conv=fsync",
    ])?;
    drop_page_cache();
    let read = dd(&[&format!("if={}", file.display()), "of=/dev/null", "bs=1M"])?;
    Ok((mib as f64 / write.as_secs_f64(), mib as f64 / read.as_secs_f64()))
}

fn dd(args: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = std::process::Command::new("dd").args(args).stderr(std::process::Stdio::null()).status()?;
    anyhow::ensure!(status.success(), "dd {args:?} failed");
    Ok(started.elapsed())
}

/// Drops the page cache so that the read comes from the disk: needs root; otherwise the read bound
/// is the cache's, and the report says so.
fn drop_page_cache() {
    if std::fs::write("/proc/sys/vm/drop_caches", "3").is_err() {
        println!("documents: cannot drop the page cache (not root); the read bound is the cache's");
    }
}

/// The transfers beside the targets of issue 11.
pub fn print(backend: &str, mib: usize, transfers: &[Transfer]) {
    let met = |ok: bool| if ok { "yes" } else { "NO" };
    for t in transfers {
        let ratio = t.mib_per_second / t.bound_mib_per_second;
        println!(
            "documents   {backend:<8} {mib} MiB {:<15} {:>7.1} MiB/s beside dd {:>7.1} MiB/s: {ratio:.2} (target >= 0.5: {}); \
             RSS peak {:.1} MiB above idle (target < 64: {})",
            t.name,
            t.mib_per_second,
            t.bound_mib_per_second,
            met(ratio >= 0.5),
            t.peak_above_idle_mib,
            met(t.peak_above_idle_mib < 64.0)
        );
    }
}
