# Switchboard's real-time protocol, version 1, JSON encoding (docs/protocol.md),
# for bench/servers/switchboard-rt.mjs. Syntax: the "profile" comment in loadgen.c.
path /
subprotocol switchboard.v1.json
ping {"type":"ping"*
pong {"type":"pong"}
init send {"type":"connect","id":1}
init expect {"type":"reply","id":1,"result":{*}}
subscribe send {"type":"subscribe","id":2,"channel":"bench:fanout"}
subscribe expect {"type":"reply","id":2,"result":{*}}
# the publisher is not subscribed; the namespace lets any client publish
publish {"type":"publish","id":$I,"channel":"bench:fanout","data":"$P"}
publish-ack {"type":"reply","id":$I,"result":{*}}
delivery {"type":"publication","channel":"bench:fanout","offset":*,"data":"$P"}
# the method `echo` returns its params
request {"type":"call","id":$I,"method":"echo","data":"$P"}
reply {"type":"reply","id":$I,"result":{"data":"$P"}}
