import ExhibitCLI

await ExhibitMain.run()
