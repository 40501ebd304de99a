"""Everything that talks to S3 through boto3: region, presigned URLs, multipart, HEAD.

The browser only ever gets URLs signed here, for one key, one method, one size and a
few minutes. Every boto3 failure leaves this module as an :class:`UploadError`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import botocore.exceptions as bex

from . import _extra_args, _form_post
from ._client import (
    error_code,
    find_region,
    http_status,
    is_aws_endpoint,
    is_not_found,
    signing_clone,
    signing_session,
    signs_as_needed,
    supports,
)
from ._errors import UploadError, explain_client_error, key_exists_error
from ._extra_args import browser_headers, headers_for, iam_hint, normalize_extra_args
from ._options import DEFAULT_EXPIRES_IN, check_option
from ._parts import check_stored_parts, read_reported_parts
from ._sizes import MAX_PART_SIZE, MAX_PARTS, MAX_SINGLE_PUT
from ._values import is_int


@dataclass(frozen=True)
class SignedRequest:
    """A request the browser may send as is: method, presigned URL, the exact headers it
    must add (signed ones; Content-Length is signed too but set by the browser) and, for
    a form POST, the form's fields (the file goes after them)."""

    method: str
    url: str
    headers: dict[str, str]
    fields: dict[str, str] | None = None

    def as_dict(self) -> dict:
        """``{"method", "url", "headers"}`` (and ``fields``) for a protocol message."""
        extra = {"fields": dict(self.fields)} if self.fields is not None else {}
        return {"method": self.method, "url": self.url, "headers": dict(self.headers), **extra}


class Signer:
    """Presigns uploads into one bucket and runs the multipart calls around them.

    ``client`` is a boto3 S3 client; ``expires_in`` is how many seconds each presigned
    URL lives. ``prefix`` (optional) only makes access-denied advice name the whole
    upload prefix. Nothing is sent to S3 until the first call that needs it: the bucket's
    region is found then, once.
    """

    def __init__(
        self,
        client,
        bucket: str,
        *,
        expires_in: int = DEFAULT_EXPIRES_IN,
        prefix: str = "",
        extra_endpoints: tuple[str, ...] = (),
    ) -> None:
        check_option("bucket", bucket)
        check_option("expires_in", expires_in)
        self.client = client
        self.bucket = bucket
        self.expires_in = expires_in
        self.prefix = prefix
        self._region: str | None = None
        self._signing_client = None
        self._host_clients: list | None = None
        self._extra_endpoints = check_option("extra_endpoints", extra_endpoints)
        self._puts_signed = 0

    @property
    def extra_endpoints(self) -> tuple[str, ...]:
        """Other endpoints of the same S3 (the widget's ``extra_endpoints``): PUTs and
        parts are signed for them in turn with the client's own, so that the browser,
        which opens 6 connections per host name, can have more requests in flight."""
        return self._extra_endpoints

    @extra_endpoints.setter
    def extra_endpoints(self, value: tuple[str, ...]) -> None:
        value = check_option("extra_endpoints", value)
        if value != self._extra_endpoints:
            self._extra_endpoints, self._host_clients = value, None

    def warm(self) -> None:
        """Do now what the first signature would wait on: find the bucket's region and make
        the signing clients (~150 ms, ~300 ms with 7 extra endpoints). The session calls it
        on a thread of its own when a view appears, before any pick. Whatever fails is left
        for that signature to report, in its own words."""
        with contextlib.suppress(Exception):
            for turn in range(1 + len(self._extra_endpoints)):
                self._host_client(turn)

    # --- errors ----------------------------------------------------------------------

    def _explain(self, exc: BaseException, key: str, action: str) -> UploadError:
        return explain_client_error(
            exc, bucket=self.bucket, key=key, action=action, prefix=self.prefix or None
        )

    # --- region ---------------------------------------------------------------------

    @property
    def region(self) -> str:
        """The bucket's region, asked from S3 once.

        GetBucketLocation first; if S3 refuses it (some roles may not call it, some
        S3-compatible servers lack it), HeadBucket's ``x-amz-bucket-region`` header; then
        the client's own region.
        """
        if self._region is None:
            self._region = find_region(self.client, self.bucket, self._explain)
        return self._region

    @property
    def signing_client(self):
        """The client that presigns: ``client`` itself when it already signs SigV4 for the
        bucket's region on a regional endpoint, else a clone that does (same credentials
        and configuration). With a custom endpoint only SigV4 is enforced."""
        if self._signing_client is None:
            aws = is_aws_endpoint(self.client)
            region = self.region if aws else (self.client.meta.region_name or "us-east-1")
            try:
                probe = self.client.generate_presigned_url(
                    "head_object", Params={"Bucket": self.bucket, "Key": "probe"}, ExpiresIn=60
                )
            except bex.BotoCoreError as exc:
                raise self._explain(exc, "", "s3:PutObject") from exc
            if signs_as_needed(probe, region, aws=aws):
                self._signing_client = self.client
            else:
                self._signing_client = signing_clone(self.client, region=region, aws=aws)
        return self._signing_client

    def _host_client(self, turn: int):
        """The signing client of host name number ``turn`` (modulo their count): the
        client's own endpoint first, then each of ``extra_endpoints``."""
        if self._host_clients is None:
            aws = is_aws_endpoint(self.client)
            region = self.region if aws else (self.client.meta.region_name or "us-east-1")
            session = signing_session(self.client) if self._extra_endpoints else None
            self._host_clients = [self.signing_client] + [
                signing_clone(
                    self.client, region=region, aws=aws, endpoint_url=url, session=session
                )
                for url in self._extra_endpoints
            ]
        return self._host_clients[turn % len(self._host_clients)]

    def _presign(
        self, method: str, params: dict, key: str, headers: dict, turn: int = 0
    ) -> SignedRequest:
        """A presigned PUT for host name ``turn`` (see _host_client), with those of
        ``headers`` the URL signs (see browser_headers)."""
        try:
            url = self._host_client(turn).generate_presigned_url(
                method, Params=params, ExpiresIn=self.expires_in, HttpMethod="PUT"
            )
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:PutObject") from exc
        try:
            return SignedRequest("PUT", url, browser_headers(url, headers))
        except ValueError as exc:
            raise UploadError(
                "internal",
                f"This botocore signs the upload of s3://{self.bucket}/{key} differently from "
                f"what the browser will send: {exc}.",
                "Please report it with your botocore version; a different botocore may work.",
            ) from exc

    # --- single PUT -----------------------------------------------------------------

    def presign_put(
        self,
        key: str,
        *,
        size: int,
        content_type: str,
        overwrite: bool,
        extra_args: dict | None = None,
        checksum: str = "",
    ) -> SignedRequest:
        """A presigned PUT of exactly ``size`` bytes of ``content_type`` to ``key``.

        Content-Type and Content-Length are signed, so S3 refuses any other body size or
        type; with ``overwrite=False`` ``If-None-Match: *`` is signed too, so S3 refuses
        to replace an existing object. ``extra_args`` (ExtraArgs such as
        ``ServerSideEncryption``, see `_extra_args`) are signed as their headers, and so is
        ``checksum`` (the body's CRC32C: S3 refuses a body that does not match it). The
        returned headers are the ones the browser must send (Content-Length excluded:
        browsers set it and refuse to let scripts do so).
        """
        if not is_int(size) or not 0 <= size <= MAX_SINGLE_PUT:
            raise ValueError(f"a single PUT carries 0..{MAX_SINGLE_PUT:,} bytes, not {size!r}")
        options = normalize_extra_args(extra_args)
        params = {
            **options,
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": content_type,
            "ContentLength": size,
        }
        headers = {"Content-Type": content_type, **headers_for(options)}
        _extra_args.sign_checksum(params, headers, checksum)
        if not overwrite:
            if supports(self.client, "PutObject", "IfNoneMatch"):
                params["IfNoneMatch"] = "*"
                headers["If-None-Match"] = "*"
            elif self.exists_if_allowed(key):
                # botocore too old to sign If-None-Match (< mid 2024): check now, at least.
                raise self._key_exists(key)
        self._puts_signed += 1  # files take the host names in turn
        return self._presign("put_object", params, key, headers, self._puts_signed - 1)

    def presign_post(
        self, key: str, *, size: int, content_type: str, fields: dict, content_md5: str
    ) -> SignedRequest:
        """A presigned form POST of a small file (`_form_post.presign_post`: its policy
        pins the key, length, type, ``fields`` and ``content_md5``)."""
        self._puts_signed += 1
        try:
            url, form = _form_post.presign_post(
                self._host_client(self._puts_signed - 1), self.bucket, key, size=size,
                content_type=content_type, fields=fields, content_md5=content_md5,
                expires_in=self.expires_in,
            )  # fmt: skip
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:PutObject") from exc
        return SignedRequest("POST", url, {}, form)

    # --- multipart ------------------------------------------------------------------

    def create_multipart(
        self,
        key: str,
        *,
        content_type: str,
        overwrite: bool,
        extra_args: dict | None = None,
        checksum_algorithm: str | None = None,
        look_first: bool = True,
    ) -> str:
        """Start a multipart upload to ``key`` and return S3's UploadId.

        ``extra_args`` go to CreateMultipartUpload only: S3 applies them to the object;
        parts and completion carry none. With ``overwrite=False`` an existing object raises
        ``UploadError("key-exists")`` now, before any byte is sent (completion checks again).
        ``checksum_algorithm`` ("CRC32C") makes every part carry that checksum.
        ``look_first=False`` skips that HEAD where no object can be at the key yet (it
        holds a new random id: `keys_are_private`), a round trip to S3 less.
        """
        options = normalize_extra_args(extra_args)
        if checksum_algorithm:
            options["ChecksumAlgorithm"] = checksum_algorithm
        if not overwrite and look_first and self.exists_if_allowed(key):
            raise self._key_exists(key)
        try:
            answer = self.client.create_multipart_upload(
                **options, Bucket=self.bucket, Key=key, ContentType=content_type
            )
        except (bex.BotoCoreError, bex.ClientError) as exc:
            error = self._explain(exc, key, "s3:PutObject")
            if error.code == "access-denied" and iam_hint(options):
                error.hint = f"{error.hint} {iam_hint(options)}"
            raise error from exc
        return answer["UploadId"]

    def presign_part(
        self, key: str, upload_id: str, part_number: int, length: int, checksum: str = ""
    ) -> SignedRequest:
        """A presigned PUT of part ``part_number`` with exactly ``length`` bytes (signed),
        and its CRC32C ``checksum`` when given (signed: S3 refuses other bytes)."""
        if not is_int(part_number):
            raise ValueError(f"part_number must be an int, not {part_number!r}")
        if not 1 <= part_number <= MAX_PARTS:
            raise ValueError(f"part_number must be between 1 and {MAX_PARTS}, not {part_number}")
        if not is_int(length) or not 0 <= length <= MAX_PART_SIZE:
            raise ValueError(f"a part carries 0..{MAX_PART_SIZE:,} bytes, not {length!r}")
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ContentLength": length,
        }
        headers: dict[str, str] = {}
        _extra_args.sign_checksum(params, headers, checksum)
        return self._presign("upload_part", params, key, headers, part_number - 1)

    def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: list,
        *,
        expected_size: int,
        overwrite: bool,
        part_checksums: dict[int, str] | None = None,
        look_first: bool = True,
    ) -> dict:
        """Check the parts S3 holds against what the browser reports, then complete.

        ``parts`` is ``[{"part_number": int, "etag": str}, ...]`` from the browser. S3's
        own list of parts must have every reported part with the same ETag, and their
        sizes must add up to ``expected_size``. Either the object is completed, or the
        upload is aborted (nothing half-written stays billed) and ``UploadError`` raised:
        ``bad-request``, ``size-mismatch``, ``key-exists``, or the S3 error. With
        ``part_checksums`` (the CRC32C signed for each part) S3 checks them again, and the
        total size where it knows ``MpuObjectSize``. ``look_first=False`` skips the HEAD
        for servers that ignore ``If-None-Match`` where no other upload can write the key.
        Returns ``{"etag", "size", "checksum_crc32c"}`` of the stored object.
        """
        try:
            reported = read_reported_parts(key, parts)
            stored = self.stored_parts(key, upload_id)
            check_stored_parts(self.bucket, key, reported, stored, expected_size)
            if not overwrite and look_first and self.exists_if_allowed(key):
                # Moto and old S3-compatible servers may ignore If-None-Match: check too.
                raise self._key_exists(key)
            answer = self._complete(key, upload_id, reported, stored, overwrite, part_checksums)
        except UploadError as error:
            if error.code != "unknown-upload":
                self._abort_quietly(key, upload_id)
            raise
        # The sizes were checked against S3's part list, and the answer holds the object's
        # ETag: no HEAD (a request less per file), unless a server left the ETag out. The
        # object is stored: a failed HEAD (a write-only role) must not turn it into an error.
        found = {"etag": answer.get("ETag", ""), "size": expected_size}
        if not found["etag"]:
            with contextlib.suppress(UploadError):
                found = {k: v for k, v in self.head(key).items() if k in ("etag", "size")}
        return {**found, "checksum_crc32c": answer.get("ChecksumCRC32C", "")}

    def list_parts(self, key: str, upload_id: str) -> list[int]:
        """The numbers of the parts S3 holds for a multipart upload (ListParts, all pages)."""
        return sorted(self.stored_parts(key, upload_id))

    def stored_parts(self, key: str, upload_id: str) -> dict[int, dict]:
        """S3's ListParts of a multipart upload, all pages: part number -> its entry
        (``PartNumber``, ``Size``, ``ETag``, ``ChecksumCRC32C`` where the server keeps it)."""
        stored: dict[int, dict] = {}
        try:
            pages = self.client.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
            for page in pages:
                for part in page.get("Parts", []):
                    stored[part["PartNumber"]] = part
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:ListMultipartUploadParts") from exc
        return stored

    def _complete(self, key, upload_id, reported, stored, overwrite, checksums) -> dict:
        # Complete with S3's own ETags (checked equal above), in part order, and with the
        # checksums the kernel signed (never the page's word).
        parts = [{"PartNumber": n, "ETag": stored[n]["ETag"]} for n in reported]
        for part in parts if checksums else []:
            if part["PartNumber"] not in checksums:
                raise UploadError("bad-request", f"Part {part['PartNumber']} was never signed.", "")
            part["ChecksumCRC32C"] = checksums[part["PartNumber"]]
        request = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": parts},
        }
        if checksums and supports(self.client, "CompleteMultipartUpload", "MpuObjectSize"):
            request["MpuObjectSize"] = sum(stored[n]["Size"] for n in reported)
        if not overwrite and supports(self.client, "CompleteMultipartUpload", "IfNoneMatch"):
            request["IfNoneMatch"] = "*"
        try:
            return self.client.complete_multipart_upload(**request)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:PutObject") from exc

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload so its parts are deleted; an unknown one is fine."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except bex.ClientError as exc:
            if error_code(exc) == "NoSuchUpload" or http_status(exc) == 404:
                return  # already aborted, completed, or never existed: nothing left behind
            raise self._explain(exc, key, "s3:AbortMultipartUpload") from exc
        except bex.BotoCoreError as exc:
            raise self._explain(exc, key, "s3:AbortMultipartUpload") from exc

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        # Best effort while another error is being raised: that error is the one to show.
        with contextlib.suppress(UploadError):
            self.abort_multipart(key, upload_id)

    # --- objects --------------------------------------------------------------------

    def head(self, key: str) -> dict:
        """``{"size", "etag", "content_type"}`` of the object at ``key`` (ETag as S3 gives
        it, in quotes). A missing object raises ``UploadError("s3-rejected")``."""
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except (bex.BotoCoreError, bex.ClientError) as exc:
            raise self._explain(exc, key, "s3:GetObject") from exc
        return {
            "size": answer["ContentLength"],
            "etag": answer.get("ETag", ""),
            "content_type": answer.get("ContentType", ""),
        }

    def exists(self, key: str) -> bool:
        """Whether an object exists at ``key`` (HEAD; 404 means no)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except bex.ClientError as exc:
            if is_not_found(exc):
                return False
            raise self._explain(exc, key, "s3:GetObject") from exc
        except bex.BotoCoreError as exc:
            raise self._explain(exc, key, "s3:GetObject") from exc
        return True

    def exists_if_allowed(self, key: str) -> bool:
        """``exists`` for an early overwrite check: False when S3 refuses the HEAD.

        Upload-only roles often lack s3:GetObject (and without s3:ListBucket S3 answers 403
        even for a missing key); the signed If-None-Match still guards the write then.
        """
        try:
            return self.exists(key)
        except UploadError as error:
            if error.code == "access-denied":
                return False
            raise

    def _key_exists(self, key: str) -> UploadError:
        return key_exists_error(self.bucket, key)
