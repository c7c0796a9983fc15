# Socket.IO v4 (Engine.IO protocol 4) over its WebSocket transport, for
# bench/servers/socketio.mjs. Syntax: the "profile" comment in loadgen.c.
path /socket.io/?EIO=4&transport=websocket
# Engine.IO heartbeat: the server pings ("2"), the client pongs ("3")
ping 2
pong 3
# Engine.IO open packet, then the Socket.IO CONNECT to the main namespace
init expect 0{*
init send 40
init expect 40{*
# join the room; the server acks (ack id 1) once the socket is in it
subscribe send 421["join","bench:fanout"]
subscribe expect 431[]
# pub(room, data) -> io.to(room).emit('msg', data)
publish 42["pub","bench:fanout","$P"]
delivery 42["msg","$P"]
# echo(data, ack) -> ack(data)
request 42$I["echo","$P"]
reply 43$I["$P"]
