"""The sample bot and its local services: nlu, qna and a channel simulator.

python -m sample_bot --port 3978          # the bot
python -m sample_bot.nlu --port 5101      # intent recognition (LUIS v3 shaped)
python -m sample_bot.qna --port 5102      # question answering (generateAnswer shaped)
python -m sample_bot.channel --port 5103 --bot-url http://127.0.0.1:3978/api/messages
bot-telemetry demo                        # all of the above plus the collector
"""
