from fillstream.cli import run

run()
