"""Images a coordinator uploads for an issue: checked, stripped of metadata, sized for email, stored once.

Pillow decodes and re-encodes them. It is the maintained successor of PIL, reads all four formats
PeerPost takes, has good resampling, guards against decompression bombs, and ships manylinux wheels that
run on Lambda. Re-encoding from the pixels is what strips metadata: nothing of the upload's EXIF (which
can carry where a photo was taken), XMP, text chunks or comments is written back; only the colour
profile is kept, so colours look the same.

Each upload becomes two files: one for email's 600 px column and one twice that for sharp screens (never
wider than the upload). Their keys are named after the upload's SHA-256 and never rewritten, so an image
in a sent issue cannot change, whatever is edited or uploaded later.
"""
from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from chalicelib import aws
from chalicelib.errors import PeerPostError
from chalicelib.settings import get_settings

# API Gateway hands Lambda at most 6 MB, and a binary body grows by a third in base64.
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_PIXELS = 40_000_000  # 8000 x 5000: a bigger image is a photo no email needs, or a decompression bomb
MAX_FRAMES = 300  # an animated GIF
EMAIL_WIDTH = 600
SHARP_WIDTH = EMAIL_WIDTH * 2
ACCEPTED = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF"}
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif"}
CACHE_CONTROL = "public, max-age=31536000, immutable"
KEY_PATTERN = re.compile(r"images/[0-9a-f]{32}-(1x|2x)\.(png|jpg|gif)")


class ImageRefused(PeerPostError):
    status = 400
    title = "This image cannot be used"


class ImageTooLarge(ImageRefused):
    status = 413


@dataclass(frozen=True)
class Rendition:
    key: str
    data: bytes
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class StoredImage:
    url: str  # the email-width file, for src
    url_2x: str
    width: int
    height: int


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _open(data: bytes):
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageRefused("Choose an image file to upload.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageTooLarge(f"That image is {_mb(len(data))}. Upload one of at most {_mb(MAX_UPLOAD_BYTES)}, "
                            "for example by saving it smaller or as a JPEG.")
    try:
        with warnings.catch_warnings():  # the size is checked below, with a message a person can act on
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED))
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"That image has far too many pixels. Upload one of at most "
                            f"{MAX_PIXELS // 1_000_000} million pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise ImageRefused("That file is not a PNG, JPEG, WebP or GIF image. "
                           "Choose a picture in one of those formats.") from None
    width, height = image.size
    if getattr(image, "n_frames", 1) > MAX_FRAMES:
        raise ImageTooLarge(f"That animation has more than {MAX_FRAMES} frames. Upload a shorter one.")
    if width * height > MAX_PIXELS:
        raise ImageTooLarge(f"That image is {width} × {height} pixels. Upload one of at most "
                            f"{MAX_PIXELS // 1_000_000} million pixels.")
    return image


def _sized(frame, width: int):
    from PIL import Image

    if frame.width <= width:
        sized = frame.copy()
    else:
        sized = frame.resize((width, max(1, round(frame.height * width / frame.width))), Image.Resampling.LANCZOS)
    sized.info = {}  # comments, text chunks, EXIF: savers would write some of them back
    return sized


def _encode(image, width: int) -> tuple[bytes, str, tuple[int, int]]:
    """One rendition, written from the pixels alone (no metadata but the colour profile)."""
    from PIL import Image, ImageOps, ImageSequence

    profile = image.info.get("icc_profile")
    out = io.BytesIO()
    if image.format == "GIF" and getattr(image, "n_frames", 1) > 1:
        frames, durations = [], []
        for frame in ImageSequence.Iterator(image):
            durations.append(frame.info.get("duration", 100))
            frames.append(_sized(frame.convert("RGBA"), width))
        frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=durations,
                       loop=image.info.get("loop", 0), disposal=2, optimize=True)
        return out.getvalue(), "gif", frames[0].size
    upright = ImageOps.exif_transpose(image)  # a phone's rotation, applied before its EXIF goes
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
    if image.format == "JPEG" or (image.format == "WEBP" and not has_alpha):
        pixels = _sized(upright.convert("RGB"), width)
        pixels.save(out, "JPEG", quality=85, optimize=True, progressive=True, icc_profile=profile)
        return out.getvalue(), "jpg", pixels.size
    # PNG, GIF, and WebP with transparency become PNG: email clients read it everywhere, WebP they do not.
    pixels = _sized(upright.convert("RGBA" if has_alpha else "RGB"), width)
    pixels.save(out, "PNG", optimize=True, icc_profile=profile)
    return out.getvalue(), "png", pixels.size


def prepare(data: bytes) -> list[Rendition]:
    """The email-width and the sharp-screen renditions of an upload, or ImageRefused saying why not. Pure."""
    image = _open(data)
    try:
        image.load()
        digest = hashlib.sha256(data).hexdigest()[:32]
        renditions = []
        for label, width in (("1x", EMAIL_WIDTH), ("2x", SHARP_WIDTH)):
            image.seek(0)
            encoded, extension, (w, h) = _encode(image, width)
            renditions.append(Rendition(f"images/{digest}-{label}.{extension}", encoded,
                                        CONTENT_TYPES[extension], w, h))
        return renditions
    except (OSError, ValueError, SyntaxError):  # truncated or corrupt past its header
        raise ImageRefused("That image could not be read: the file may be damaged. Try saving it again.") from None
    finally:
        image.close()


def url_for(key: str) -> str:
    return f"{get_settings().media_base_url}/{key}"


def store(data: bytes) -> StoredImage:
    """Prepare an upload and put its renditions in the media bucket, unless they are there already."""
    from botocore.exceptions import ClientError

    renditions = prepare(data)
    client = aws.s3()
    bucket = get_settings().media_bucket
    for rendition in renditions:
        try:
            client.head_object(Bucket=bucket, Key=rendition.key)
            continue  # the same upload again: its files exist and are never rewritten
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        client.put_object(Bucket=bucket, Key=rendition.key, Body=rendition.data,
                          ContentType=rendition.content_type, CacheControl=CACHE_CONTROL)
    email, sharp = renditions
    return StoredImage(url_for(email.key), url_for(sharp.key), email.width, email.height)


def sharp_url(url: str) -> str:
    """The sharp-screen twin of an uploaded image's address, or "" for an image from elsewhere."""
    base = get_settings().media_base_url + "/"
    found = KEY_PATTERN.fullmatch(url[len(base):]) if url.startswith(base) else None
    if not found or found.group(1) != "1x":
        return ""
    return url.replace("-1x.", "-2x.")


def read(key: str) -> tuple[bytes, str]:
    """A stored rendition's bytes and type (local mode serves /media from this; AWS uses CloudFront)."""
    from botocore.exceptions import ClientError

    from chalicelib.errors import NotFound

    if not KEY_PATTERN.fullmatch(key):
        raise NotFound("There is no such image.")
    try:
        found = aws.s3().get_object(Bucket=get_settings().media_bucket, Key=key)
    except ClientError as exc:
        raise NotFound("There is no such image.") from exc
    return found["Body"].read(), found["ContentType"]
