from stvos.cli import main

main()
