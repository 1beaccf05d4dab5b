# The two commands of the README, and a few helpers. Every target sets up what is missing first.
.PHONY: demo test setup stop clean

demo:
	@scripts/setup.sh
	@.venv/bin/ikg demo

test:
	@scripts/setup.sh --browser
	@.venv/bin/python -m pytest -q

setup:
	@scripts/setup.sh --browser

stop:
	@.venv/bin/ikg server stop

clean:
	-@.venv/bin/ikg server stop
	rm -rf .neo4j var
