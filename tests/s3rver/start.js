#!/usr/bin/env node
// Test-only: start @20minutes/s3rver (a SigV4-verifying fake S3) on 127.0.0.1.
//
//   node start.js [--bucket NAME]... [--cors-origin ORIGIN]... [--config JSON]
//                 [--port N] [--ignore-stdin]
//
// --bucket NAME          create bucket NAME (repeatable)
// --cors-origin ORIGIN   give every --bucket a CORS rule for ORIGIN (repeatable;
//                        PUT/POST/GET/HEAD, all headers, ETag exposed)
// --config JSON          '{"buckets": [{"name": "b", "corsOrigins": ["http://x:1"]}]}'
// --port N               default 0: the system picks a free port
// --ignore-stdin         don't exit when stdin closes (for running it by hand)
//
// Prints exactly one JSON line, {"port": N}, on stdout once it listens.
// Data lives in a fresh temp directory that is removed on exit.
// Stops cleanly on SIGTERM, SIGINT, or when stdin closes (so it never
// outlives the Python process that started it, even if that one is killed).
// Credentials: S3RVER / S3RVER, region: any (us-east-1 in our tests).
'use strict';

// s3rver's reset() uses fs.rmdir(recursive), deprecated in Node 20: keep stderr quiet.
process.noDeprecation = true;

const fs = require('fs');
const os = require('os');
const path = require('path');
const S3rver = require('@20minutes/s3rver');

function usage(message) {
  process.stderr.write(`start.js: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { buckets: [], corsOrigins: [], port: 0, ignoreStdin: false };
  const config = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--bucket':
        opts.buckets.push(value());
        break;
      case '--cors-origin':
        opts.corsOrigins.push(value());
        break;
      case '--config': {
        let parsed;
        try {
          parsed = JSON.parse(value());
        } catch (err) {
          usage(`--config is not JSON: ${err.message}`);
        }
        for (const bucket of parsed.buckets || []) {
          if (!bucket || typeof bucket.name !== 'string') {
            usage('--config: every bucket needs a "name"');
          }
          config.push({ name: bucket.name, corsOrigins: bucket.corsOrigins || [] });
        }
        break;
      }
      case '--port':
        opts.port = Number(value());
        if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
          usage('--port must be an integer 0..65535');
        }
        break;
      case '--ignore-stdin':
        opts.ignoreStdin = true;
        break;
      default:
        usage(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  const buckets = opts.buckets
    .map((name) => ({ name, corsOrigins: opts.corsOrigins }))
    .concat(config);
  return { buckets, port: opts.port, ignoreStdin: opts.ignoreStdin };
}

function xmlEscape(text) {
  return String(text)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function corsXml(origins) {
  const originTags = origins
    .map((origin) => `    <AllowedOrigin>${xmlEscape(origin)}</AllowedOrigin>`)
    .join('\n');
  return `<CORSConfiguration>
  <CORSRule>
    <ID>s3-upload-widget</ID>
${originTags}
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;
}

async function main() {
  const { buckets, port, ignoreStdin } = parseArgs(process.argv.slice(2));
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-test-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    silent: true,
    directory,
    resetOnClose: true,
    vhostBuckets: false,
    configureBuckets: buckets.map(({ name, corsOrigins }) => ({
      name,
      configs: corsOrigins.length ? [corsXml(corsOrigins)] : [],
    })),
  });

  let stopping = false;
  const stop = async (why) => {
    if (stopping) return;
    stopping = true;
    // A client may hold a keep-alive connection open: don't let it block exit.
    const forced = setTimeout(() => finish(0), 3000);
    forced.unref();
    try {
      if (server.httpServer) {
        if (server.httpServer.closeAllConnections) server.httpServer.closeAllConnections();
        await server.close();
      }
    } catch (err) {
      process.stderr.write(`start.js: error while stopping (${why}): ${err.message}\n`);
    }
    finish(0);
  };
  const finish = (code) => {
    try {
      fs.rmSync(directory, { recursive: true, force: true });
    } catch {
      // best effort: it is a temp directory
    }
    process.exit(code);
  };

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (!ignoreStdin) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('close', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin error'));
    process.stdin.resume();
  }

  let address;
  try {
    address = await server.run();
  } catch (err) {
    process.stderr.write(`start.js: S3rver failed to start: ${err.stack || err}\n`);
    finish(1);
    return;
  }
  process.stdout.write(JSON.stringify({ port: address.port }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`start.js: ${err.stack || err}\n`);
  process.exit(1);
});
