from rustpunt.cli import main

main()
