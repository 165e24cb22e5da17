"""Real applications across roams: HLS video, RTMP live streams, a SIP call, a large download.

Servers (nginx with its RTMP module, a sipp callee, ffmpeg publishers) run in
the testbed's internet namespace behind the exit's NAT (``l3roam.testbed.internet``);
clients (an HLS player model, ffmpeg, a sipp caller, curl) run in the client
namespace.  Pure parts: pcap codec, RTP statistics, the E-model, the player
buffer model, ffmpeg progress and conntrack parsing, path analysis.  Side
effects: ``servers``, ``session`` and the client processes (``hls``, ``fetch``,
``ffwatch``), which run as ``python3 -m l3roam.apps.<name>`` inside namespaces.
"""
