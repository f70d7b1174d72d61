//! Uploads one file to S3 with `object_store`'s S3 client, as fast as that client allows:
//! a multipart upload with `--concurrency` parts of `--part-size` bytes in flight
//! (`WriteMultipart` with `wait_for_capacity`), `UNSIGNED-PAYLOAD` over https, a signed
//! payload over http, path-style requests to a custom endpoint, static keys from
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (region from `AWS_DEFAULT_REGION`), and the
//! CA bundle of `SSL_CERT_FILE` trusted beside the system roots. Then checks the stored size
//! with a HEAD and prints the wall time of the upload.
//!
//!   object-store-s3-bench --endpoint URL --bucket B --key K --file F
//!       [--concurrency 4] [--part-size 8MiB] [--runtime multi|current]
//!       [--checksum none|sha256|crc64nvme]
//!
//! Bench only (issue 19, contrib/s3-bench-object-store.sh).
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::BytesMut;
use object_store::aws::{AmazonS3Builder, Checksum};
use object_store::path::Path;
use object_store::{Certificate, ClientOptions, ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::AsyncReadExt;

struct Args {
    endpoint: String,
    bucket: String,
    key: String,
    file: String,
    concurrency: usize,
    part_size: usize,
    multi_thread: bool,
    checksum: Option<Checksum>,
}

fn parse_size(text: &str) -> Result<usize> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let factor = match unit {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        _ => bail!("bad size {text}"),
    };
    Ok(number.parse::<usize>().context("bad size")? * factor)
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        endpoint: String::new(),
        bucket: String::new(),
        key: String::new(),
        file: String::new(),
        concurrency: 4,
        part_size: 8 << 20,
        multi_thread: true,
        checksum: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--endpoint" => args.endpoint = value,
            "--bucket" => args.bucket = value,
            "--key" => args.key = value,
            "--file" => args.file = value,
            "--concurrency" => args.concurrency = value.parse().context("--concurrency")?,
            "--part-size" => args.part_size = parse_size(&value)?,
            "--runtime" => args.multi_thread = value == "multi",
            "--checksum" if value == "none" => args.checksum = None,
            "--checksum" => {
                args.checksum = Some(value.parse().map_err(|()| {
                    anyhow::anyhow!("--checksum must be none, sha256 or crc64nvme")
                })?);
            }
            _ => bail!("unknown option {flag}"),
        }
    }
    if args.endpoint.is_empty()
        || args.bucket.is_empty()
        || args.key.is_empty()
        || args.file.is_empty()
    {
        bail!(
            "usage: object-store-s3-bench --endpoint URL --bucket B --key K --file F [--concurrency N] [--part-size 8MiB] [--runtime multi|current]"
        );
    }
    if args.concurrency == 0 || args.part_size < 5 << 20 {
        bail!("--concurrency must be >= 1 and --part-size >= 5MiB");
    }
    Ok(args)
}

async fn upload(args: &Args) -> Result<()> {
    let https = args.endpoint.starts_with("https://");
    let mut options = ClientOptions::new()
        .with_allow_http(!https)
        .with_timeout(Duration::from_secs(300));
    if let Ok(bundle) = std::env::var("SSL_CERT_FILE") {
        let pem = std::fs::read(&bundle).with_context(|| format!("cannot read {bundle}"))?;
        for certificate in Certificate::from_pem_bundle(&pem)? {
            options = options.with_root_certificate(certificate);
        }
    }
    let store = AmazonS3Builder::new()
        .with_endpoint(&args.endpoint)
        .with_bucket_name(&args.bucket)
        .with_region(std::env::var("AWS_DEFAULT_REGION").unwrap_or_else(|_| "us-east-1".into()))
        .with_access_key_id(std::env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID")?)
        .with_secret_access_key(
            std::env::var("AWS_SECRET_ACCESS_KEY").context("AWS_SECRET_ACCESS_KEY")?,
        )
        .with_virtual_hosted_style_request(false)
        .with_unsigned_payload(https)
        .with_client_options(options);
    // Per-part integrity: object_store has no Content-MD5, only x-amz-checksum-* headers.
    let store = match args.checksum {
        Some(checksum) => store.with_checksum_algorithm(checksum),
        None => store,
    }
    .build()?;
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    let path = Path::from(args.key.as_str());
    let mut file = tokio::fs::File::open(&args.file)
        .await
        .with_context(|| format!("cannot open {}", args.file))?;
    let expected = file.metadata().await?.len();

    let start = Instant::now();
    let multipart = store.put_multipart(&path).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(multipart, args.part_size);
    loop {
        let mut part = BytesMut::with_capacity(args.part_size);
        while part.len() < args.part_size {
            if file.read_buf(&mut part).await? == 0 {
                break;
            }
        }
        if part.is_empty() {
            break;
        }
        // At most `concurrency` parts in flight: wait for a slot, then hand the part over
        // without copying (a full part starts its UploadPart at once).
        if let Err(error) = writer.wait_for_capacity(args.concurrency).await {
            let _ = writer.abort().await;
            return Err(error.into());
        }
        let last = part.len() < args.part_size;
        writer.put(part.freeze());
        if last {
            break;
        }
    }
    let result = writer.finish().await?;
    let elapsed = start.elapsed();

    let meta = store.head(&path).await?;
    if meta.size != expected {
        bail!("stored {} bytes, expected {expected}", meta.size);
    }
    println!(
        "uploaded {expected} bytes in {:.2} s ({} x {} MiB parts in flight, {} payload, \
         checksum {}, ETag {})",
        elapsed.as_secs_f64(),
        args.concurrency,
        args.part_size >> 20,
        if https { "unsigned" } else { "signed" },
        args.checksum.map_or("none".to_string(), |c| c.to_string()),
        result.e_tag.unwrap_or_default()
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    // reqwest is built without a provider of its own: ring, as in the agent.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = if args.multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(upload(&args))
}
