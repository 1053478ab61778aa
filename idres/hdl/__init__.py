"""The binary Handle protocol (RFC 3652) on UDP and TCP, port 2641 by default.

- :mod:`idres.hdl.wire`: envelope, header, bodies and their bounded decoding;
- :mod:`idres.hdl.records` and :mod:`idres.hdl.site`: values in the RFC 3651 layout;
- :mod:`idres.hdl.answer`: the seam: an ``Answer`` callable answers a request
  (:func:`~idres.hdl.answer.local_answer` from this node's records; a served
  node uses the federation router, :func:`idres.federation.binary.binary_answer`);
- :mod:`idres.hdl.exchange`: one request to one response, transport-free;
- :mod:`idres.hdl.server`: the asyncio UDP/TCP server;
- :mod:`idres.hdl.client`: a blocking client (UDP with retries, TCP).
"""
