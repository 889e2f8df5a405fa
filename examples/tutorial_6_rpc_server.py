# aio-pika 6.8.2 documentation, 4.3.6 "Remote procedure call (RPC)", rpc_server.py: unchanged (see README.md).
import asyncio
from functools import partial
from amqpio import connect, IncomingMessage, Exchange, Message


def fib(n):
    if n == 0:
        return 0
    elif n == 1:
        return 1
    else:
        return fib(n - 1) + fib(n - 2)


async def on_message(exchange: Exchange, message: IncomingMessage):
    with message.process():
        n = int(message.body.decode())

        print(" [.] fib(%d)" % n)
        response = str(fib(n)).encode()

        await exchange.publish(
            Message(
                body=response,
                correlation_id=message.correlation_id
            ),
            routing_key=message.reply_to,
        )
        print("Request complete")


async def main(loop):
    # Perform connection
    connection = await connect(
        "amqp://guest:guest@localhost/", loop=loop
    )

    # Creating a channel
    channel = await connection.channel()

    # Declaring queue
    queue = await channel.declare_queue("rpc_queue")

    # Start listening the queue with name 'hello'
    await queue.consume(partial(
        on_message, channel.default_exchange)
    )


if __name__ == "__main__":
    loop = asyncio.get_event_loop()
    loop.create_task(main(loop))

    # we enter a never-ending loop that waits for data
    # and runs callbacks whenever necessary.
    print(" [x] Awaiting RPC requests")
    loop.run_forever()
