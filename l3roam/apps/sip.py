"""The SIP call: sipp scenarios for caller and callee, and their command lines (pure).

The caller (in the client) sends INVITE with an SDP offer (PCMA), waits for
the callee's 200 OK, ACKs, plays the RTP stream from a pcap (50 packets/s),
holds the call for ``hold_ms`` and hangs up with BYE; the call counts as
survived when the BYE's 200 OK arrives (sipp exits 0 with one successful
call).  The callee (in the internet) answers and echoes every RTP packet back
to its source address and port (``-rtp_echo``): symmetric RTP, which is what
lets media cross the exit's NAT without a SIP ALG, and which follows the
caller's flow if it appears from another exit.
"""

from __future__ import annotations

SIP_PORT = 5060
MEDIA_PORT = 6000

_SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=ptime:20
"""


def caller_xml(pcap_path: str, hold_ms: int) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="l3roam caller">
  <send retrans="500">
    <![CDATA[
INVITE sip:callee@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: caller <sip:caller@[local_ip]:[local_port]>;tag=[call_number]
To: callee <sip:callee@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:caller@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{_SDP}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
ACK sip:callee@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: caller <sip:caller@[local_ip]:[local_port]>;tag=[call_number]
To: callee <sip:callee@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:caller@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <nop>
    <action>
      <exec play_pcap_audio="{pcap_path}"/>
    </action>
  </nop>
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500">
    <![CDATA[
BYE sip:callee@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: caller <sip:caller@[local_ip]:[local_port]>;tag=[call_number]
To: callee <sip:callee@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: sip:caller@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
"""


def callee_xml() -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="l3roam callee">
  <recv request="INVITE" crlf="true"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:callee@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

{_SDP}
    ]]>
  </send>
  <recv request="ACK" optional="true" crlf="true"/>
  <recv request="BYE" timeout="600000"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
</scenario>
"""


def caller_argv(scenario: str, client_ip: str, server_ip: str, run_dir: str, timeout_s: int) -> list[str]:
    return ["sipp", "-sf", scenario, f"{server_ip}:{SIP_PORT}", "-i", client_ip, "-p", str(SIP_PORT),
            "-mp", str(MEDIA_PORT), "-m", "1", "-l", "1", "-nostdin", "-timeout", f"{timeout_s}s",
            "-timeout_error", "-trace_err", "-error_file", f"{run_dir}/caller-errors.log",
            "-trace_stat", "-stf", f"{run_dir}/caller-stat.csv"]


def callee_argv(scenario: str, server_ip: str, run_dir: str) -> list[str]:
    return ["sipp", "-sf", scenario, "-i", server_ip, "-p", str(SIP_PORT), "-mp", str(MEDIA_PORT),
            "-rtp_echo", "-m", "1", "-nostdin", "-trace_err", "-error_file", f"{run_dir}/callee-errors.log"]
