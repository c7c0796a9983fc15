# Switchboard's real-time protocol (docs/protocol.md, JSON) for the storm mode
# (rt-reconnect-storm), against bench/servers/switchboard-rt.mjs with JWT_SECRET
# set: a JWT in `connect`, the channel storm:bench in a namespace with history.
# Syntax: the "profile" comment in loadgen.c.
path /
subprotocol switchboard.v1.json
ping {"type":"ping"*
pong {"type":"pong"}
# first connection: connect with the token, subscribe
init send {"type":"connect","id":1,"token":"$T"}
init expect {"type":"reply","id":1,"result":{*}}
subscribe send {"type":"subscribe","id":2,"channel":"storm:bench"}
subscribe expect {"type":"reply","id":2,"result":{*}}
publish {"type":"publish","id":$I,"channel":"storm:bench","data":"$P"}
publish-ack {"type":"reply","id":$I,"result":{*}}
# the stream's first publication names its epoch (docs/protocol.md §5.1): the
# subscriber keeps its position, $1 = offset, $2 = epoch
delivery {"type":"publication","channel":"storm:bench","offset":$1,"epoch":"$2","data":"$P"}
# reconnection, as the SDK does it: connect and subscribe with `since` sent
# together; the subscribe reply must say recovered and hold the missed ones
resume send {"type":"connect","id":1,"token":"$T"}
resume send {"type":"subscribe","id":2,"channel":"storm:bench","since":{"offset":$1,"epoch":"$2"}}
resume expect {"type":"reply","id":1,"result":{*}}
resume expect {"type":"reply","id":2,"result":{"offset":*,"epoch":"$2","recoverable":true,"recovered":true,"publications":[$R]}}
recover-item {"offset":*,"data":"$P"}
