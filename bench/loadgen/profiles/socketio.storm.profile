# Socket.IO v4 (Engine.IO protocol 4) with connection state recovery, for the
# storm mode (rt-reconnect-storm), against bench/servers/socketio.mjs with
# JWT_SECRET set. Syntax: the "profile" comment in loadgen.c.
path /socket.io/?EIO=4&transport=websocket
ping 2
pong 3
# first connection: the token in the CONNECT packet's auth payload; the
# server's CONNECT names the session ($3 = pid, its private id)
init expect 0{*
init send 40{"token":"$T"}
init expect 40{"sid":"*","pid":"$3"}
subscribe send 421["join","storm:bench"]
subscribe expect 431[]
# pub with an ack: the missed publications are in before the reconnection
publish 42$I["pub","storm:bench","$P"]
publish-ack 43$I[]
# with recovery on, each broadcast carries its offset last: $1
delivery 42["msg","$P","$1"]
# reconnection, as socket.io-client does it: pid and offset added to the auth
# payload; recovered when the server's CONNECT names the same pid. Socket.IO
# writes the missed packets before its CONNECT packet
resume expect 0{*
resume send 40{"token":"$T","pid":"$3","offset":"$1"}
resume expect 40{"sid":"*","pid":"$3"}
recover-item 42["msg","$P","*"]
