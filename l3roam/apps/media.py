"""The media the application probes use, made once per experiment (side effects: files, ffmpeg).

- ``stream.flv``: ``MEDIA_SECONDS`` of an ffmpeg test pattern (320x240,
  25 frames/s, H.264 at 300 kbit/s, a keyframe every 2 s, AAC sine tone),
  encoded once; RTMP publishers stream-copy it in a loop (no encoding while
  measuring: the 2 cores belong to the mesh);
- ``hls/seg000.ts`` ...: the same stream cut into 2 s segments (stream copy);
  ``playlist(n)`` writes a playlist of ``n`` entries cycling over them, so a
  player never runs out during a run;
- ``download.bin``: a sparse file of the size a run asks for;
- ``rtp.pcap``: the caller's RTP stream (``l3roam.apps.rtp.stream_pcap``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from l3roam.apps import rtp
from l3roam.apps.tools import require
from l3roam.errors import ExternalToolError

MEDIA_SECONDS = 20
SEGMENT_S = 2
FPS = 25


class Media:
    def __init__(self, directory: Path):
        self.dir = Path(directory)

    @property
    def flv(self) -> Path:
        return self.dir / "stream.flv"

    @property
    def hls_dir(self) -> Path:
        return self.dir / "hls"

    def segments(self) -> list[str]:
        return sorted(p.name for p in self.hls_dir.glob("seg*.ts"))

    def prepare(self) -> "Media":
        """Encode the stream and cut the segments unless already there."""
        require("ffmpeg")
        self.hls_dir.mkdir(parents=True, exist_ok=True)
        if not self.flv.exists():
            tmp = self.dir / "stream.tmp.flv"
            self._ffmpeg(["-f", "lavfi", "-i", f"testsrc=size=320x240:rate={FPS}",
                          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", str(MEDIA_SECONDS),
                          "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "300k", "-maxrate", "300k",
                          "-bufsize", "300k", "-g", str(FPS * SEGMENT_S), "-keyint_min", str(FPS * SEGMENT_S),
                          "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
                          "-f", "flv", str(tmp)])
            tmp.replace(self.flv)
        if not self.segments():
            self._ffmpeg(["-i", str(self.flv), "-c", "copy", "-f", "hls", "-hls_time", str(SEGMENT_S),
                          "-hls_list_size", "0", "-hls_segment_filename", str(self.hls_dir / "seg%03d.ts"),
                          str(self.hls_dir / "source.m3u8")])
        return self

    @staticmethod
    def _ffmpeg(args: list[str]) -> None:
        out = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise ExternalToolError(f"ffmpeg failed making the test media: {out.stderr.strip()[-500:]}")

    def playlist(self, name: str, entries: int) -> Path:
        segs = self.segments()
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{SEGMENT_S}", "#EXT-X-MEDIA-SEQUENCE:0"]
        for k in range(entries):
            lines += [f"#EXTINF:{SEGMENT_S}.000000,", segs[k % len(segs)]]
        lines.append("#EXT-X-ENDLIST")
        path = self.hls_dir / name
        path.write_text("\n".join(lines) + "\n")
        return path

    @staticmethod
    def download_file(directory: Path, size: int) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "download.bin"
        with open(path, "wb") as f:
            f.truncate(size)
        return path

    @staticmethod
    def rtp_pcap(path: Path, seconds: float) -> Path:
        path.write_bytes(rtp.stream_pcap(seconds))
        return path
