"""The on-demand library as the apps read it: classes, categories, discover and signed video
access. (The studio's editing side lives in ``stvos.manage``.)"""
