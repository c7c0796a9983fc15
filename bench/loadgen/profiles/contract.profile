# The plain bench contract (README "Servers": BCAST broadcast, echo) as a
# profile, for measuring the load generator's own ceiling in the fanout and rpc
# modes against a fast server (uws), like raw-tcp for echo:
#   node bench/servers/uws.mjs   (PORT=…, pinned to CPU 0)
#   loadgen --mode fanout --profile bench/loadgen/profiles/contract.profile -c 5000 -w 8 -s 64 -p …
# The server also sends each broadcast back to the publisher: ignored.
publish BCAST $P
delivery $P
ignore $P
request $P
reply $P
