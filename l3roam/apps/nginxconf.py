"""nginx.conf for the internet namespace's application server (pure).

One nginx process (no master, one worker's worth of work, running as root
inside the namespace) serves:

- HLS: the pre-encoded segments and playlist on port ``HLS_PORT``;
- the large file on ``DOWNLOAD_PORT`` (its own port so the internet
  namespace can put it in a rate-limited class, ``l3roam.apps.servers``);
- RTMP on 1935: application ``live``, the client publishes ``live/up`` and
  plays ``live/down`` (published inside the internet by ffmpeg).
"""

from __future__ import annotations

HLS_PORT = 8080
DOWNLOAD_PORT = 8081
RTMP_PORT = 1935


def render(run_dir: str, hls_dir: str, download_dir: str, rtmp_module: str, listen: str) -> str:
    return f"""# rendered by l3roam.apps.nginxconf
load_module {rtmp_module};
daemon off;
master_process off;
user root;
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log {run_dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen {listen}:{RTMP_PORT};
        chunk_size 4096;
        application live {{
            live on;
            record off;
        }}
    }}
}}
http {{
    access_log {run_dir}/nginx-access.log;
    client_body_temp_path {run_dir}/body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;
    sendfile on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }}
    default_type application/octet-stream;
    server {{
        listen {listen}:{HLS_PORT};
        root {hls_dir};
        add_header Cache-Control no-cache;
    }}
    server {{
        listen {listen}:{DOWNLOAD_PORT};
        root {download_dir};
    }}
}}
"""
